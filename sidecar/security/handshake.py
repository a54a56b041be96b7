"""TLS handshake failures by reason: a bounded set of counter names from ssl errors (pure; transports count them).

The server side learns why it refused a client certificate from OpenSSL's verify code; the client
side learns why the server refused it from the TLS alert it receives (in TLS 1.3 only on its first
read, after its own handshake finished). Both map onto the same few reasons, so a listener's and a
connector's counters read alike and never grow with attacker-chosen text.
"""

from __future__ import annotations

import ssl
from collections import Counter

# OpenSSL X509_V_ERR_* codes seen when verifying a peer certificate.
_VERIFY = {
    9: "not_yet_valid",  # CERT_NOT_YET_VALID
    10: "expired",  # CERT_HAS_EXPIRED
    2: "unknown_ca",  # UNABLE_TO_GET_ISSUER_CERT
    18: "unknown_ca",  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: "unknown_ca",  # SELF_SIGNED_CERT_IN_CHAIN
    20: "unknown_ca",  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "unknown_ca",  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    7: "bad_signature",  # CERT_SIGNATURE_FAILURE
    26: "bad_purpose",  # INVALID_PURPOSE
}

# OpenSSL reason strings (ssl.SSLError.reason) → reason; alerts are what the *peer* refused of ours.
_REASONS = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "no_client_certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "peer_wants_certificate",
    "TLSV1_ALERT_UNKNOWN_CA": "peer_unknown_ca",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "peer_says_expired",
    "SSLV3_ALERT_BAD_CERTIFICATE": "peer_bad_certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "peer_bad_certificate",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "no_shared_cipher",
    "NO_SHARED_CIPHER": "no_shared_cipher",
    "NO_APPLICATION_PROTOCOL": "no_alpn_h2",
    "TLSV1_ALERT_NO_APPLICATION_PROTOCOL": "no_alpn_h2",
    "UNSUPPORTED_PROTOCOL": "old_tls_version",
    "TLSV1_ALERT_PROTOCOL_VERSION": "old_tls_version",
    "WRONG_VERSION_NUMBER": "not_tls",
    "HTTP_REQUEST": "not_tls",
    "UNEXPECTED_EOF_WHILE_READING": "closed_by_peer",
}

WRONG_SERVER_IDENTITY = "wrong_server_identity"  # client side: the server's certificate names no mesh identity
REASONS = frozenset(
    {*_VERIFY.values(), *_REASONS.values(), "bad_certificate", "timeout", "other", WRONG_SERVER_IDENTITY}
)


def reason(exc: BaseException | None) -> str:
    """The counter name for a failed TLS handshake (or a TLS alert right after one); None: the peer
    closed the connection without saying why."""
    if exc is None:
        return "closed_by_peer"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _VERIFY.get(exc.verify_code, "bad_certificate")
    if isinstance(exc, ssl.SSLError):
        return _REASONS.get(exc.reason or "", "other")
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (ConnectionError, EOFError)):
        return "closed_by_peer"
    return "other"


_TEXT_REASONS = (*_REASONS.items(), ("CERTIFICATE_VERIFY_FAILED", "bad_certificate"))


def reason_in_text(text: str) -> str | None:
    """The reason named in an error text (grpc-core's "Ssl handshake failed: ...:CERTIFICATE_VERIFY_FAILED"
    and alike); None when the text tells of no TLS handshake failure."""
    if "handshake" not in text.lower() and "SSL" not in text:
        return None
    for token, why in _TEXT_REASONS:
        if token in text:
            return why
    return "other"


class HandshakeFailures(Counter[str]):
    """Failed handshakes by reason (one listener's or one connector's)."""

    def record(self, exc: BaseException | None) -> str:
        why = reason(exc)
        self[why] += 1
        return why
