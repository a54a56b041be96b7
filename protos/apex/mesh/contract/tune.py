"""Redis keys the tuning engine (`apex tuner`) and `apex tune strategy|freeze|show` share (docs/tuning.md).

Every key carries the service in braces (a Redis Cluster hash tag: the service's slot).

- `strategy_key(service)`: string, JSON of the service's strategy (engines.tune.strategy): which
  parameters it tunes and their bounds, exploration, step and rate limits, canary share, SLO, frozen.
- `model_key(service)`: hash. MODEL -> the learned model (numpy .npz bytes: Q-table, replay
  buffers, bandit counts, RNG states; never pickle), VERSION -> a counter bumped on every save,
  FORMAT -> the layout's number, SAVED_AT -> epoch seconds, LAST_SECOND -> the newest telemetry
  second the model has seen (a restart ignores re-read windows up to it).
- `decisions_key(service)`: list, newest first, at most RECENT JSON documents, one per decision:

      {"time": 1718000000.0, "service": "echo", "kind": "canary" | "promote" | "rollback" | "refused"
       | "abandoned", "action": "cap_down", "changes": {"concurrency": [1024, 614]},
       "paths": {"clusters[local].limits.max_requests": "614"}, "version": 7, "stable_version": 6,
       "rollout_percent": 50.0, "shadow": false, "evidence": "...", "reward_before": 0.93,
       "reward_after": 0.41, "goodput_before": 0.99, "goodput_after": 0.52, "p_value": 0.003,
       "canary_instances": ["echo-a"], "principal": "tuner"}

  (`reward_after` / `goodput_after`: the canary's windows; `..._before`: the control group's in the
  same windows, or the windows before the change when every instance is in the canary.)
- `status_key(group)`: hash with JSON field STATUS: the engine's services, trials in progress, lag.

Events go on `apex:events:{service}` (apex.mesh.bus) with kinds `tune.canary`, `tune.promote`,
`tune.rollback`, `tune.refused`, `tune.abandoned` (and `tune.shadow` for decisions shadow mode
only records), the decision document's fields as attributes.
"""

from __future__ import annotations

MODEL = "model"
VERSION = "version"
FORMAT = "format"
SAVED_AT = "saved_at"
LAST_SECOND = "last_second"
STATUS = "status"
RECENT = 100  # decisions kept per service

KINDS = ("canary", "promote", "rollback", "refused", "abandoned", "shadow")


def strategy_key(service: str) -> str:
    return f"apex:tune:strategy:{{{service}}}"


def model_key(service: str) -> str:
    return f"apex:tune:model:{{{service}}}"


def decisions_key(service: str) -> str:
    return f"apex:tune:decisions:{{{service}}}"


def status_key(group: str) -> str:
    return f"apex:tune:status:{group}"


STRATEGY_PATTERN = "apex:tune:strategy:*"


def service_of(key: str) -> str:
    """The service in a key's braces (`apex:tune:strategy:{echo}` -> `echo`)."""
    start, end = key.find("{"), key.rfind("}")
    if start < 0 or end < start:
        raise ValueError(f"{key!r} has no {{service}}")
    return key[start + 1 : end]
