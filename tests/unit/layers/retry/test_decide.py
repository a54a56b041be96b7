"""Idempotency globs and the retry verdict (pure functions, seeded RNG)."""

from __future__ import annotations

import pytest

from sidecar.core.call import Code, Status
from sidecar.layers.retry.decide import Verdict, idempotent, verdict
from sidecar.policy.route_model import RetryPolicy

POLICY = RetryPolicy(max_attempts=3, retry_on=frozenset({Code.UNAVAILABLE}), idempotent_methods=("Get*",))
UNAVAILABLE = Status(Code.UNAVAILABLE, "down")


@pytest.mark.parametrize(
    ("patterns", "method", "expected"),
    [
        (("Get*",), "/pkg.Store/GetItem", True),
        (("Get*",), "/pkg.Store/PutItem", False),
        (("*",), "/pkg.Store/PutItem", True),
        (("/pkg.Store/List*",), "/pkg.Store/ListItems", True),
        (("/pkg.Store/List*",), "/other.Store/ListItems", False),
        ((), "/pkg.Store/GetItem", False),
    ],
)
def test_idempotent_globs(patterns: tuple[str, ...], method: str, expected: bool) -> None:
    assert idempotent(RetryPolicy(idempotent_methods=patterns), method) is expected


def _verdict(status: Status = UNAVAILABLE, **kw: object) -> Verdict:
    args: dict[str, object] = {
        "attempt": 0,
        "per_try_timed_out": False,
        "committed": False,
        "method_idempotent": True,
        "time_left": None,
        "pause": 0.01,
    }
    args.update(kw)
    return verdict(POLICY, status, **args)  # type: ignore[arg-type]


def test_verdicts() -> None:
    assert _verdict() is Verdict.RETRY
    assert _verdict(Status(Code.OK)) is Verdict.DONE
    assert _verdict(Status(Code.INVALID_ARGUMENT)) is Verdict.DONE
    assert _verdict(attempt=2) is Verdict.NO_ATTEMPTS  # third attempt was the last of 3
    assert _verdict(attempt=1) is Verdict.RETRY
    assert _verdict(committed=True) is Verdict.COMMITTED
    assert _verdict(method_idempotent=False) is Verdict.NON_IDEMPOTENT
    assert _verdict(time_left=0.005) is Verdict.NO_TIME
    assert _verdict(time_left=1.0) is Verdict.RETRY
    # A per-try timeout is retried even though DEADLINE_EXCEEDED is not in retry_on.
    assert _verdict(Status(Code.DEADLINE_EXCEEDED), per_try_timed_out=True) is Verdict.RETRY
    assert _verdict(Status(Code.DEADLINE_EXCEEDED)) is Verdict.DONE


def test_retry_non_idempotent_overrides() -> None:
    policy = RetryPolicy(max_attempts=2, retry_non_idempotent=True)
    out = verdict(
        policy,
        UNAVAILABLE,
        attempt=0,
        per_try_timed_out=False,
        committed=False,
        method_idempotent=False,
        time_left=None,
        pause=0.0,
    )
    assert out is Verdict.RETRY
