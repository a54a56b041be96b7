"""The policy store in Redis: every version of every service's policy, with its audit record.

Layout (prefix `apex:cp:` by default):
  policy:{service}:meta      hash  latest -> newest version number, stable -> newest 100% version,
                                   epoch -> set with version 1 (tells a re-created history from the old),
                                   pruned_to, spared -> retention's progress (see prune)
  policy:{service}:versions  hash  version -> PolicyRecord (protobuf: policy, who/when/why/source, diff)
  services                   set   services with a stored policy
  changes                    pub/sub channel: "policy:{service}" after every write

Writes are compare-and-set on the latest version, checked and applied by one Lua script, so of
two writers based on the same version exactly one succeeds and the other gets VersionConflict.

Retention (`keep_versions`, `apex control-plane --keep-versions N`): after a write, versions older
than the newest N lose their policy body (`policy_omitted`), never the live (stable) version nor
the latest; the audit record (who, when, why, source, diff) of every version stays, so the
history still reads in full. Durability is Redis': without AOF or RDB snapshots a Redis restart
erases the history (`persistence_problem` says so; the control plane logs it at start).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from apex.mesh.contract.names import name_problem
from apex.mesh.v1 import config_pb2, control_pb2
from redis.asyncio import Redis

from engines.control import diff as policy_diff

Validator = Callable[[config_pb2.Policy], object]

_WRITE = """
local latest = tonumber(redis.call('HGET', KEYS[1], 'latest') or '0')
if latest ~= tonumber(ARGV[1]) then return {0, latest} end
if latest == 0 then redis.call('HSET', KEYS[1], 'epoch', ARGV[8]) end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[1], 'latest', ARGV[2])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'stable', ARGV[2]) end
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {1, tonumber(ARGV[2])}
"""


PAGE_BYTES = 2 << 20  # a history page stays under this (gRPC's default receive limit is 4 MiB)
DEFAULT_PAGE = 20
MAX_PAGE = 100
DEFAULT_MAX_POLICY_BYTES = 1 << 20


class HistoryPage(NamedTuple):
    records: list[control_pb2.PolicyRecord]
    next_token: str  # "" = no more pages


def check_service(service: str, field: str = "service") -> None:
    """A service name must follow the shared name rule: it becomes part of Redis keys."""
    if not service:
        raise StoreError(f"{field} is required", field)
    problem = name_problem(service)
    if problem is not None:
        raise StoreError(f"{field}: {problem}", field)


class Heads(NamedTuple):
    latest: int  # newest version (0 = none)
    stable: int  # newest version rolled out to 100%
    epoch: str  # identifies this history: version N of a re-created store is not the old version N


class StoreError(Exception):
    """A request the store refuses; `code` is the gRPC status name the server answers with."""

    code = "INVALID_ARGUMENT"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class VersionConflict(StoreError):
    code = "ABORTED"

    def __init__(self, service: str, expected: int, latest: int) -> None:
        super().__init__(
            f"version conflict on {service!r}: the change is based on version {expected} "
            f"but the latest is {latest}; re-read it and retry"
        )
        self.expected = expected
        self.latest = latest


class NotFound(StoreError):
    code = "NOT_FOUND"


def _parse_token(token: str, epoch: str, latest: int) -> tuple[int, int]:
    """(start, stop) versions from a page token `epoch:start:stop`; StoreError when it is not ours."""
    parts = token.split(":")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise StoreError(f"page_token {token[:80]!r} is not a token this server gave", "page_token")
    if parts[0] != epoch:
        raise StoreError("page_token belongs to a history that was since re-created; start again", "page_token")
    start, stop = int(parts[1]), int(parts[2])
    if not 1 <= stop <= start <= latest:
        raise StoreError(f"page_token {token[:80]!r} is out of range", "page_token")
    return start, stop


def diff_changes(old: config_pb2.Policy | None, new: config_pb2.Policy) -> list[control_pb2.FieldChange]:
    kinds = {
        policy_diff.ADDED: control_pb2.FieldChange.ADDED,
        policy_diff.REMOVED: control_pb2.FieldChange.REMOVED,
        policy_diff.CHANGED: control_pb2.FieldChange.CHANGED,
    }
    return [
        control_pb2.FieldChange(path=c.path, kind=kinds[c.kind], old_value=c.old, new_value=c.new)
        for c in policy_diff.diff(old, new)
    ]


class PolicyStore:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "apex:cp:",
        validate: Validator | None = None,
        clock: Callable[[], float] = time.time,
        max_policy_bytes: int = DEFAULT_MAX_POLICY_BYTES,
        keep_versions: int = 0,
    ) -> None:
        if keep_versions < 0:
            raise ValueError(f"keep_versions must be 0 (keep all) or more, got {keep_versions}")
        self.redis = redis
        self.keep_versions = keep_versions
        self.max_policy_bytes = max_policy_bytes
        self.prefix = prefix
        self.channel = f"{prefix}changes"
        self._validate = validate
        self._clock = clock
        self._write = redis.register_script(_WRITE)

    def _meta(self, service: str) -> str:
        return f"{self.prefix}policy:{service}:meta"

    def _versions(self, service: str) -> str:
        return f"{self.prefix}policy:{service}:versions"

    # --- reads ---------------------------------------------------------------------------------

    async def services(self) -> list[str]:
        members = await self.redis.smembers(f"{self.prefix}services")
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def heads(self, service: str) -> Heads:
        """Latest and stable version numbers (0 when none) and the history's epoch."""
        latest, stable, epoch = await self.redis.hmget(self._meta(service), ["latest", "stable", "epoch"])
        return Heads(int(latest or 0), int(stable or 0), epoch.decode() if isinstance(epoch, bytes) else "")

    async def get(self, service: str, version: int = 0) -> control_pb2.PolicyRecord:
        """Version `version` of the service's policy (0 = latest); NotFound when absent."""
        latest, stable, _ = await self.heads(service)
        wanted = version or latest
        raw = await self.redis.hget(self._versions(service), str(wanted)) if wanted else None
        if raw is None:
            if not latest:
                raise NotFound(f"no policy stored for service {service!r}")
            raise NotFound(f"service {service!r} has no version {wanted} (latest is {latest})")
        record = control_pb2.PolicyRecord.FromString(raw)
        record.stable_version = stable
        return record

    async def history(self, service: str, limit: int = 0) -> list[control_pb2.PolicyRecord]:
        """Every record (newest first, the newest `limit` when set), read page by page."""
        records: list[control_pb2.PolicyRecord] = []
        token = ""
        while True:
            page = await self.history_page(service, limit, MAX_PAGE, token)
            records += page.records
            if not (token := page.next_token):
                return records

    async def history_page(self, service: str, limit: int = 0, page_size: int = 0, token: str = "") -> HistoryPage:
        """One page of history, newest first: at most `page_size` records and about PAGE_BYTES.

        1. The range to read (`start` down to `stop`) comes from the heads, or from the token.
        2. The stored sizes (HSTRLEN) choose how many records fit; only those are fetched.
        3. A record larger than the page budget on its own is sent alone without its policy.
        """
        if page_size > MAX_PAGE:
            raise StoreError(f"page_size must be at most {MAX_PAGE}, got {page_size}", "page_size")
        latest, stable, epoch = await self.heads(service)
        if not latest:
            raise NotFound(f"no policy stored for service {service!r}")
        if token:
            start, stop = _parse_token(token, epoch, latest)
        else:
            start, stop = latest, max(1, latest - limit + 1) if limit else 1
        versions = list(range(start, max(stop, start - (page_size or DEFAULT_PAGE) + 1) - 1, -1))
        key = self._versions(service)
        pipe = self.redis.pipeline(transaction=False)
        for v in versions:
            pipe.hstrlen(key, str(v))
        sizes = [int(n) for n in await pipe.execute()]
        chosen: list[int] = []
        used = 0
        for v, size in zip(versions, sizes, strict=True):
            if chosen and used + size > PAGE_BYTES:
                break
            chosen.append(v)
            used += size
        raws = await self.redis.hmget(key, [str(v) for v in chosen])
        records = []
        for raw in raws:
            if raw is None:
                continue
            record = control_pb2.PolicyRecord.FromString(raw)
            record.stable_version = stable
            if len(raw) > PAGE_BYTES:
                record.ClearField("policy")
                record.policy_omitted = True
            records.append(record)
        after = chosen[-1] - 1
        return HistoryPage(records, f"{epoch}:{after}:{stop}" if after >= stop else "")

    # --- writes --------------------------------------------------------------------------------

    async def set(
        self, service: str, policy: config_pb2.Policy, change: control_pb2.Change, *, rollback_of: int = 0
    ) -> control_pb2.PolicyRecord:
        """Store `policy` as the next version if `change.expected_version` is still the latest."""
        check_service(service)
        size = policy.ByteSize()
        if size > self.max_policy_bytes:
            raise StoreError(
                f"policy is {size} bytes, over the limit of {self.max_policy_bytes} bytes "
                "(apex control-plane --max-policy-bytes)",
                "policy",
            )
        if not change.HasField("expected_version"):
            raise StoreError(
                "expected_version is required: the version the change is based on (0 when none is stored)",
                "change.expected_version",
            )
        percent = change.rollout_percent if change.HasField("rollout_percent") else 100.0
        if not 0 < percent <= 100:  # NaN fails this too
            raise StoreError(f"rollout_percent must be in (0, 100], got {percent}", "change.rollout_percent")
        if self._validate is not None:
            try:
                self._validate(policy)
            except ValueError as exc:
                field = getattr(exc, "field", "")
                reason = getattr(exc, "reason", str(exc))
                message = f"invalid policy: {field}: {reason}" if field else f"invalid policy: {reason}"
                raise StoreError(message, field) from None
        expected = change.expected_version
        latest = (await self.heads(service)).latest
        if latest != expected:
            raise VersionConflict(service, expected, latest)
        previous = (await self.get(service, latest)).policy if latest else None
        version = latest + 1
        record = control_pb2.PolicyRecord(
            service=service,
            version=version,
            author=change.author or "unknown",
            reason=change.reason,
            source=change.source or control_pb2.OPERATOR,
            rollout_percent=percent,
            rollback_of=rollback_of,
        )
        record.policy.CopyFrom(policy)
        record.policy.version = str(version)
        record.created_at.FromNanoseconds(int(self._clock() * 1e9))
        record.diff.extend(diff_changes(previous, record.policy))
        ok, current = await self._write(
            keys=[self._meta(service), self._versions(service), f"{self.prefix}services"],
            args=[
                expected,
                version,
                record.SerializeToString(),
                "1" if percent >= 100 else "0",
                service,
                self.channel,
                f"policy:{service}",
                uuid.uuid4().hex,
            ],
        )
        if not ok:
            raise VersionConflict(service, expected, int(current))
        if self.keep_versions:
            await self.prune(service, self.keep_versions)
        return record

    async def prune(self, service: str, keep: int) -> list[int]:
        """Drop the policy body of versions older than the newest `keep`, except the live (stable) one;
        their audit records stay. Returns the versions pruned now.

        Meta `pruned_to` marks the versions already handled (all pruned but the one spared as live
        then, kept in meta `spared`), so a write prunes only what newly fell out of the window, plus
        the formerly live version once it no longer is.
        """
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        meta = self._meta(service)
        latest, stable, _ = await self.heads(service)
        done_raw, spared_raw = await self.redis.hmget(meta, ["pruned_to", "spared"])
        done, spared = int(done_raw or 0), int(spared_raw or 0)
        limit = latest - keep
        candidates = list(range(done + 1, limit + 1))
        if spared and spared != stable and spared <= limit:
            candidates.append(spared)
        key = self._versions(service)
        pruned: list[int] = []
        for version in candidates:
            if version == stable:
                spared = version
                continue
            raw = await self.redis.hget(key, str(version))
            if raw is None:
                continue
            record = control_pb2.PolicyRecord.FromString(raw)
            if not record.policy_omitted:
                record.ClearField("policy")
                record.policy_omitted = True
                await self.redis.hset(key, str(version), record.SerializeToString())
                pruned.append(version)
            if version == spared:
                spared = 0
        if limit > done or pruned:
            await self.redis.hset(meta, mapping={"pruned_to": max(done, limit), "spared": spared})
        return pruned

    async def rollback(self, service: str, to_version: int, change: control_pb2.Change) -> control_pb2.PolicyRecord:
        """A new version whose policy is version `to_version`'s."""
        if not to_version:
            raise StoreError("to_version is required", "to_version")
        target = await self.get(service, to_version)
        if target.policy_omitted:
            raise StoreError(
                f"version {to_version}'s policy was dropped by retention (--keep-versions); its audit record remains",
                "to_version",
            )
        if not change.reason:
            change.reason = f"rollback to version {to_version}"
        return await self.set(service, target.policy, change, rollback_of=to_version)


async def persistence_problem(redis: Redis) -> str | None:
    """Why a restart of this Redis would lose the policy history (no AOF, no RDB snapshots), or None.

    None too when CONFIG is disabled or renamed (managed Redis): persistence cannot be checked then,
    and that is said in the returned text only when the check itself was refused for another reason.
    """
    try:
        aof = await redis.config_get("appendonly")
        save = await redis.config_get("save")
    except Exception as exc:  # ResponseError: CONFIG renamed/disabled (ACL, managed services)
        if type(exc).__module__.startswith("redis"):
            return None
        raise
    appendonly = _config_value(aof, "appendonly").lower()
    snapshots = _config_value(save, "save").strip()
    if appendonly == "yes" or snapshots:
        return None
    return (
        'Redis has no persistence (appendonly no, save ""): a Redis restart erases every policy version '
        "and audit record. Run Redis with --appendonly yes (see docs/control-plane.md)."
    )


def _config_value(reply: Mapping[Any, Any], name: str) -> str:
    value = reply.get(name, reply.get(name.encode(), b""))
    return value.decode() if isinstance(value, bytes) else str(value)
