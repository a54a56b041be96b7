"""Transports: the only data-path code that speaks the wire, one package per transport.

Each package (e.g. `grpc_aio`) exposes `transport() -> sidecar.core.transport.Transport` and is
listed in `sidecar.core.transport.REGISTRY` under the name configs use (`transport: grpc`).
"""
