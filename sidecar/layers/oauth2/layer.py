"""The oauth2 layer: each call of the route goes out with `authorization: Bearer <access token>`."""

from __future__ import annotations

import dataclasses

from sidecar.core.call import Code
from sidecar.core.service import Request, Response, Service, local_error
from sidecar.layers.oauth2.endpoint import TokenError
from sidecar.layers.oauth2.source import TokenSource

AUTHORIZATION = "authorization"


class OAuth2Layer:
    """Replaces any `authorization` the application sent (the route authenticates on its behalf);
    without a token the call fails UNAVAILABLE naming the token endpoint's error."""

    name = "oauth2"

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __call__(self, inner: Service) -> Service:
        source = self.source

        async def oauth2(request: Request) -> Response:
            try:
                token = await source.token()
            except TokenError as exc:
                return local_error(Code.UNAVAILABLE, f"apex: no OAuth2 access token for this route: {exc}")
            call = request.call
            metadata = tuple(kv for kv in call.metadata if kv[0] != AUTHORIZATION)
            request.call = dataclasses.replace(call, metadata=(*metadata, (AUTHORIZATION, f"Bearer {token}")))
            return await inner(request)

        return oauth2
