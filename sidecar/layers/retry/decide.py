"""Pure retry decisions: idempotency of a method, whether to try again (the wait: apex.mesh.contract.backoff)."""

from __future__ import annotations

import enum
import fnmatch

from sidecar.core.call import Code, Status
from sidecar.policy.route_model import RetryPolicy


def idempotent(policy: RetryPolicy, method: str) -> bool:
    """True when `method` ("/pkg.Service/Method") matches one of the policy's idempotent globs.

    A pattern starting with "/" is matched against the full path, any other against the bare
    method name; "*" declares every method of the route idempotent.
    """
    bare = method.rpartition("/")[2]
    for pattern in policy.idempotent_methods:
        subject = method if pattern.startswith("/") else bare
        if fnmatch.fnmatchcase(subject, pattern):
            return True
    return False


class Verdict(enum.Enum):
    DONE = "done"  # success, or a status the policy does not retry
    RETRY = "retry"
    NO_ATTEMPTS = "no attempts left"
    COMMITTED = "committed"  # the request went beyond its buffered first message
    NON_IDEMPOTENT = "non-idempotent"
    NO_TIME = "no time left"


def verdict(
    policy: RetryPolicy,
    status: Status,
    *,
    attempt: int,
    per_try_timed_out: bool,
    committed: bool,
    method_idempotent: bool,
    time_left: float | None,
    pause: float,
) -> Verdict:
    """Whether attempt number `attempt` (0-based) that ended with `status` should be retried.

    The budget is asked last, by the caller, only when this says RETRY.
    """
    if status.code is Code.OK or not (per_try_timed_out or status.code in policy.retry_on):
        return Verdict.DONE
    if attempt + 1 >= policy.max_attempts:
        return Verdict.NO_ATTEMPTS
    if committed:
        return Verdict.COMMITTED
    if not (method_idempotent or policy.retry_non_idempotent):
        return Verdict.NON_IDEMPOTENT
    if time_left is not None and time_left <= pause:
        return Verdict.NO_TIME
    return Verdict.RETRY
