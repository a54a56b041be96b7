"""The wire: the only data-path code that imports grpc (grpc.aio generic pass-through today)."""
