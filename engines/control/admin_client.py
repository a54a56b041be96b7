"""An asyncio client of PolicyAdmin for engines (forecaster, tuner): read, patch, set, roll back.

A lost compare-and-set race raises `Conflict` (re-read and decide again); a policy the control
plane refuses raises `Rejected` carrying its reason; both are plain exceptions, not gRPC errors.
"""

from __future__ import annotations

from typing import Any

import grpc
from apex.mesh.security.secrets import bearer, client_token
from apex.mesh.v1 import config_pb2, control_pb2, control_pb2_grpc


class AdminError(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class Conflict(AdminError):
    """Another writer stored a version first (gRPC ABORTED)."""


class Rejected(AdminError):
    """The change is invalid (gRPC INVALID_ARGUMENT); `details` names the field and the reason."""


class NotFound(AdminError):
    """No such service or version."""


_ERRORS = {
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.INVALID_ARGUMENT: Rejected,
    grpc.StatusCode.NOT_FOUND: NotFound,
}


class PolicyAdminClient:
    def __init__(
        self,
        address: str,
        *,
        author: str,
        source: control_pb2.ChangeSource.ValueType = control_pb2.OPERATOR,
        timeout: float = 10.0,
        token: str | None = None,
    ) -> None:
        """`token`: this engine's or operator's control-plane token (default: $APEX_TOKEN_FILE /
        $APEX_TOKEN); the audit records the principal it names, whatever `author` says."""
        self._metadata = bearer(client_token() if token is None else token)
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = control_pb2_grpc.PolicyAdminStub(self._channel)
        self.author = author
        self.source = source
        self.timeout = timeout

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> PolicyAdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            error = _ERRORS.get(exc.code(), AdminError)
            raise error(exc.code(), exc.details() or "") from None

    def _change(self, reason: str, expected_version: int | None, rollout_percent: float | None) -> control_pb2.Change:
        change = control_pb2.Change(author=self.author, reason=reason, source=self.source)
        if expected_version is not None:
            change.expected_version = expected_version
        if rollout_percent is not None:
            change.rollout_percent = rollout_percent
        return change

    async def get(self, service: str, version: int = 0) -> control_pb2.PolicyRecord:
        record: control_pb2.PolicyRecord = await self._call(
            "GetPolicy", control_pb2.GetPolicyRequest(service=service, version=version)
        )
        return record

    async def set(
        self,
        service: str,
        policy: config_pb2.Policy,
        *,
        reason: str,
        expected_version: int,
        rollout_percent: float | None = None,
    ) -> control_pb2.PolicyRecord:
        change = self._change(reason, expected_version, rollout_percent)
        record: control_pb2.PolicyRecord = await self._call(
            "SetPolicy", control_pb2.SetPolicyRequest(service=service, policy=policy, change=change)
        )
        return record

    async def patch(
        self,
        service: str,
        path: str,
        value: str,
        *,
        reason: str,
        expected_version: int | None = None,
        rollout_percent: float | None = None,
    ) -> control_pb2.PolicyRecord:
        """Set one field (YAML `value`) of the latest policy; without `expected_version` the read and
        the write are still atomic on the control plane (a concurrent writer makes this a Conflict)."""
        change = self._change(reason, expected_version, rollout_percent)
        request = control_pb2.PatchPolicyRequest(service=service, path=path, value=value, change=change)
        record: control_pb2.PolicyRecord = await self._call("PatchPolicy", request)
        return record

    async def rollback(
        self, service: str, to_version: int, *, reason: str, expected_version: int | None = None
    ) -> control_pb2.PolicyRecord:
        change = self._change(reason, expected_version, None)
        request = control_pb2.RollbackRequest(service=service, to_version=to_version, change=change)
        record: control_pb2.PolicyRecord = await self._call("Rollback", request)
        return record

    async def history(self, service: str, limit: int = 0) -> list[control_pb2.PolicyRecord]:
        """Newest first; follows the server's pages to the end (or to `limit` records)."""
        records: list[control_pb2.PolicyRecord] = []
        token = ""
        while True:
            request = control_pb2.HistoryRequest(service=service, limit=limit, page_token=token)
            response = await self._call("History", request)
            records += response.records
            if not (token := response.next_page_token):
                return records

    async def instances(self, service: str = "") -> list[control_pb2.InstanceStatus]:
        response = await self._call("ListInstances", control_pb2.ListInstancesRequest(service=service))
        return list(response.instances)
