"""The mesh CA shared by every control-plane replica: one sealed, versioned record in Redis.

Layout (under the control plane's prefix, `apex:cp:` by default):
  ca   hash  version      -> 1, 2, ... (bumped by every change: a rotation, a retirement)
             trust_domain -> the trust domain the roots are for
             sealed       -> AES-256-GCM (apex.mesh.security.sealed) over the roots and their keys
  changes    pub/sub      "ca" after every write (the policy store's channel)

The roots *and* their keys are sealed together, with the trust domain and the version in the
associated data: nothing of the CA is readable in Redis, a root cannot be slipped into the bundle
without the at-rest key, and an old blob cannot be replayed under a newer version. Creating is
atomic (a Lua script: only when the key does not exist), so replicas starting together end with
one CA; every change is compare-and-set on `version`.
"""

from __future__ import annotations

from dataclasses import dataclass

from apex.mesh.security.pki import load_certs
from apex.mesh.security.sealed import Sealer, SealError
from redis.asyncio import Redis

from engines.security.ca import DEFAULT_WORKLOAD_TTL, MeshCA

PURPOSE = b"apex mesh CA in the store"
KEYS_MARK = b"-----BEGIN PRIVATE KEY-----"

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', '1', 'trust_domain', ARGV[1], 'sealed', ARGV[2])
redis.call('PUBLISH', ARGV[3], 'ca')
return 1
"""

_WRITE = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return {0, version} end
redis.call('HSET', KEYS[1], 'version', tostring(version + 1), 'sealed', ARGV[2], 'trust_domain', ARGV[4])
redis.call('PUBLISH', ARGV[3], 'ca')
return {1, version + 1}
"""


@dataclass(frozen=True, slots=True)
class SharedCa:
    """How a replica runs the shared CA (`apex control-plane --ca-store`)."""

    trust_domain: str
    sealer: Sealer
    workload_ttl: float = DEFAULT_WORKLOAD_TTL
    seed: MeshCA | None = None  # stored when Redis holds no CA yet (a --ca-dir CA moving to the store)


class CaStore:
    """Reads, creates and changes the shared CA record; every error names the key, never a secret."""

    def __init__(self, redis: Redis, prefix: str, channel: str, shared: SharedCa) -> None:
        self.redis = redis
        self.key = f"{prefix}ca"
        self.channel = channel
        self.shared = shared

    def _aad(self, version: int) -> bytes:
        return b"%s\n%s\n%d" % (PURPOSE, self.shared.trust_domain.encode(), version)

    def _seal(self, ca: MeshCA, version: int) -> bytes:
        return self.shared.sealer.seal(ca.bundle_pem() + ca.keys_pem(), self._aad(version))

    async def version(self) -> int:
        """The stored version (0: no CA stored yet)."""
        raw = await self.redis.hget(self.key, "version")
        return int(raw or 0)

    async def read(self) -> tuple[MeshCA, int] | None:
        """The stored CA and its version, None when there is none; ValueError when it cannot be opened."""
        raw = await self.redis.hgetall(self.key)
        fields = {
            k.encode() if isinstance(k, str) else k: v.encode() if isinstance(v, str) else v for k, v in raw.items()
        }
        if not fields:
            return None
        version = int(fields.get(b"version", b"0"))
        stored = fields.get(b"trust_domain", b"").decode(errors="replace")
        if stored != self.shared.trust_domain:
            raise ValueError(
                f"the mesh CA in Redis ({self.key}) is for trust domain {stored!r}, this control plane for "
                f"{self.shared.trust_domain!r} (--trust-domain)"
            )
        try:
            data = self.shared.sealer.open(fields.get(b"sealed", b""), self._aad(version))
        except SealError as exc:
            raise ValueError(f"the mesh CA in Redis ({self.key}) version {version}: {exc} (--secret-key)") from None
        cut = data.find(KEYS_MARK)
        certs, keys = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
        load_certs(certs)  # a CertificateError (ValueError) names the problem
        ca = MeshCA.from_pem(certs, keys, self.shared.trust_domain, self.shared.workload_ttl, self.key)
        return ca, version

    async def load_or_create(self, now: float) -> tuple[MeshCA, int, bool]:
        """The stored CA, or a new one (or the seed) stored atomically when there is none: of replicas
        starting together exactly one creates it and the others load that one. (CA, version, created here)."""
        found = await self.read()
        if found is not None:
            return *found, False
        ca = self.shared.seed or MeshCA.create(self.shared.trust_domain, now, self.shared.workload_ttl)
        created = await self.redis.eval(_CREATE, 1, self.key, self.shared.trust_domain, self._seal(ca, 1), self.channel)
        if int(created):
            return ca, 1, True
        found = await self.read()  # another replica was first
        if found is None:
            raise ValueError(f"the mesh CA in Redis ({self.key}) vanished while starting")
        return *found, False

    async def write(self, ca: MeshCA, expected: int) -> int | None:
        """Store `ca` as version expected+1 if the stored version is still `expected` (else None)."""
        ok, version = await self.redis.eval(
            _WRITE, 1, self.key, expected, self._seal(ca, expected + 1), self.channel, self.shared.trust_domain
        )
        return int(version) if int(ok) else None
