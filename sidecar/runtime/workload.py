"""The sidecar's workload identity at run time: its Credentials, where they come from, what its listeners check."""

from __future__ import annotations

import asyncio
import logging
import time

from apex.mesh.security.pki import load_certs
from apex.mesh.security.secrets import resolve

from sidecar.policy.model import Listener
from sidecar.policy.security_model import Security
from sidecar.security.credentials import CertificateFiles, Credentials, FileSource, IssuedSource
from sidecar.security.material import TlsMaterial
from sidecar.security.peer import MtlsMode, PeerCheck
from sidecar.security.status import CertificateStatus, ListenerStatus, SecurityStatus, as_dict
from sidecar.security.tls import ClientTls, ListenerTls

log = logging.getLogger(__name__)


class WorkloadIdentityError(RuntimeError):
    """The sidecar cannot get a usable certificate; the message says where it looked."""


class Workload:
    """One sidecar's identity: certificates from files (polled) or from the mesh CA (`issuer`,
    driven over the control stream), and a PeerCheck per mTLS listener."""

    def __init__(self, security: Security) -> None:
        self.security = security
        self.credentials = Credentials()
        self.token = ""  # the join token sent to the control plane (resolved from its reference)
        self.files: FileSource | None = None
        self.issuer: IssuedSource | None = None
        if security.files is not None:
            f = security.files
            self.files = FileSource(CertificateFiles(f.certificate, f.private_key, f.trust_bundle), self.credentials)
        else:
            self.credentials = Credentials(IssuedSource.placeholder(security.identity, time.time()))
            self.issuer = IssuedSource(security.identity, self.credentials)
        if security.join_token is not None:
            self.token = resolve(security.join_token)
        self.checks: dict[str, PeerCheck] = {}
        self.listeners: dict[str, ListenerTls] = {}
        self.names: list[str] = []  # every listener, in bootstrap order (those without mTLS too), for status()
        self.client_tls = ClientTls(self.credentials, security.trust_domain)  # one: its handshake counters

    def load_files(self) -> None:
        """Read the certificate files now (start-up): an unusable set is an error naming the file."""
        if self.files is not None and not self.files.poll():
            raise WorkloadIdentityError(self.files.last_error or "certificate files unreadable")
        material = self.credentials.current()
        if material is not None and material.identity != self.security.identity:
            log.warning(
                "the certificate names %s, the sidecar's identity is %s", material.identity, self.security.identity
            )

    async def wait_ready(self, timeout: float) -> None:
        """Wait for the first certificate (the control plane's CA answering the first CSR)."""
        ready = asyncio.Event()
        if self.credentials.generation > 0:
            return
        self.credentials.subscribe(lambda _material: ready.set())
        try:
            await asyncio.wait_for(ready.wait(), timeout)
        except TimeoutError as exc:
            raise WorkloadIdentityError(
                f"no workload certificate from the control plane's CA within {timeout:.0f}s"
            ) from exc

    def listener_tls(self, listener: Listener) -> ListenerTls | None:
        if listener.name not in self.names:
            self.names.append(listener.name)
        if listener.mtls is MtlsMode.DISABLE:
            return None
        check = self.checks[listener.name] = PeerCheck(
            listener.mtls, self.security.trust_domain, listener.allowed_principals
        )
        tls = self.listeners[listener.name] = ListenerTls(self.credentials, check)
        return tls

    async def watch_files(self) -> None:
        """Reload the certificate files when they change (cert-manager, SPIRE rotate them)."""
        if self.files is None or self.security.files is None:
            return
        while True:
            await asyncio.sleep(self.security.files.poll_interval)
            self.files.poll()

    def status(self) -> SecurityStatus:
        """Identity, the certificate in force (never its key) and, per listener, its mode, the calls
        accepted (by mTLS principal) and refused, and failed handshakes; outbound handshake failures."""
        listeners = []
        for name in self.names:
            t = self.listeners.get(name)
            if t is None:
                listeners.append(ListenerStatus(name, MtlsMode.DISABLE.value))
                continue
            check = t.check
            listeners.append(
                ListenerStatus(
                    name,
                    check.mode.value,
                    dict(check.accepted),
                    dict(check.principals),
                    dict(check.rejected),
                    dict(t.handshakes),
                )
            )
        return SecurityStatus(
            str(self.security.identity),
            _certificate(self.credentials.current()),
            tuple(listeners),
            dict(self.client_tls.handshakes),
        )

    def snapshot(self) -> dict[str, object]:
        """`status()` as a JSON-ready dict (the admin API's `apex admin security --json` shape)."""
        return as_dict(self.status())


def _certificate(material: TlsMaterial | None) -> CertificateStatus | None:
    if material is None:
        return None
    leaf = load_certs(material.chain_pem)[0]
    return CertificateStatus(
        str(material.identity),
        f"{leaf.serial_number:X}",
        material.not_before,
        material.not_after,
        material.renew_at(),
        material.generation,
    )
