"""Redis keys the forecasting engine writes and `apex forecast show` reads (values are JSON or numpy bytes).

- `snapshot_key(group)`: hash, series key -> the series' rings (engines.forecast.ring.MultiRes
  bytes, numpy savez); the engine of consumer group `group` restores from it on start.
- `state_key(service)`: hash with JSON fields FORECAST (resolution, recent history, forecast with
  its interval, model), PROFILE (hourly/weekly shape, peak hours), PREDICTIONS (current ones),
  ACTIONS (recent applied / dry-run / refused / reverted actions with reasons), ANOMALIES (recent
  alarms), UPDATED (epoch seconds).
- `lag_key(group)`: hash with JSON field LAG (pending entries, newest entry age, per stream).
"""

from __future__ import annotations

FORECAST = "forecast"
PROFILE = "profile"
PREDICTIONS = "predictions"
ACTIONS = "actions"
ANOMALIES = "anomalies"
UPDATED = "updated"
LAG = "lag"
STATE_FIELDS = (FORECAST, PROFILE, PREDICTIONS, ACTIONS, ANOMALIES, UPDATED)
RECENT = 50  # actions / anomalies kept per service


def snapshot_key(group: str) -> str:
    return f"apex:forecast:snapshot:{group}"


def state_key(service: str) -> str:
    """`apex:forecast:state:{service}` (the service in braces: same cluster slot as its streams)."""
    return f"apex:forecast:state:{{{service}}}"


def lag_key(group: str) -> str:
    return f"apex:forecast:lag:{group}"
