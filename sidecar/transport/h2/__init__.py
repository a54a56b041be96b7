"""Transport `h2`: gRPC over HTTP/2 spoken directly (sans-IO core here; asyncio glue to come)."""
