"""The dashboard's peers panel (pure: each sidecar's security status in, text out): who each sidecar
is, when its certificate expires, and per listener who called it (principal, calls) and who was refused."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sidecar.security.status import SecurityStatus, lifetime

INSECURE_NOTE = "Peers: none (apex demo --insecure: no identities, no mTLS, every caller accepted)"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def _callers(principals: Mapping[str, int], shown: int = 3) -> str:
    ranked = sorted(principals.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{p} {n} calls" for p, n in ranked[:shown]) or "no caller yet"
    return text + (f" and {len(ranked) - shown} more" if len(ranked) > shown else "")


def totals(peers: Sequence[tuple[str, SecurityStatus | None]]) -> tuple[int, int, int]:
    """(mTLS calls accepted, calls refused after the handshake, failed handshakes) over every sidecar."""
    accepted = refused = failed = 0
    for _, status in peers:
        if status is None:
            continue
        failed += sum(status.outbound_handshake_failures.values())
        for lis in status.listeners:
            accepted += lis.accepted.get("mtls", 0)
            refused += sum(lis.rejected.values())
            failed += sum(lis.handshake_failures.values())
    return accepted, refused, failed


def peers_panel(peers: Sequence[tuple[str, SecurityStatus | None]], now: float, width: int = 160) -> list[str]:
    """One line per sidecar (identity, certificate), one per mTLS listener (callers, refusals); the
    plaintext listeners named on the sidecar's line. `peers`: (instance, status or None if unreadable)."""
    accepted, refused, failed = totals(peers)
    lines = [
        f"Peers (mTLS; identities from the control plane's CA): {len(peers)} sidecars, "
        f"{accepted} mTLS calls accepted, {refused} refused, {failed} failed handshakes"
    ]
    name_width = max((len(name) for name, _ in peers), default=0)
    for name, status in peers:
        if status is None:
            lines.append(f"  {name:<{name_width}}  (no security status: admin unreachable or no identity)")
            continue
        cert = status.certificate
        if cert is None or cert.generation == 0:
            validity = "no certificate from the CA yet"
        else:
            validity = f"cert {cert.serial[:8].lower()}… expires in {lifetime(cert.not_after - now)}"
        plain = [lis.name for lis in status.listeners if lis.mode == "disable"]
        plaintext = f"; plaintext: {', '.join(plain)}" if plain else ""
        outbound = status.outbound_handshake_failures
        handshakes = f"; outbound failed handshakes: {_counts(outbound)}" if outbound else ""
        lines.append(_clip(f"  {name:<{name_width}}  {status.identity}  {validity}{plaintext}{handshakes}", width))
        for lis in status.listeners:
            if lis.mode == "disable":
                continue
            plain_calls = lis.accepted.get("plaintext", 0)
            line = f"    {lis.name} ({lis.mode}): {_callers(lis.principals)}"
            line += f"; plaintext {plain_calls} calls" if plain_calls else ""
            line += f"; refused: {_counts(lis.rejected)}"
            if lis.handshake_failures:  # counted by h2 listeners only: grpc Python has no handshake hook
                line += f"; failed handshakes: {_counts(lis.handshake_failures)}"
            lines.append(_clip(line, width))
    return lines


def summary_line(peers: Sequence[tuple[str, SecurityStatus | None]], authors: Mapping[str, set[str]]) -> str:
    """The secured run in one line, for the end of the demo's output."""
    accepted, refused, failed = totals(peers)
    callers = sorted({p for _, st in peers if st is not None for lis in st.listeners for p in lis.principals})
    audited = sorted({a for names in authors.values() for a in names})
    return (
        f"secured: {accepted} mTLS calls between sidecars (callers: {', '.join(callers) or 'none'}), {refused} "
        f"refused, {failed} failed handshakes; engine changes audited as {', '.join(audited) or '-'}"
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
