"""Apex Mesh sidecar: a gRPC proxy that applies mesh policy in process."""

__version__ = "0.1.0"
