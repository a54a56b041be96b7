"""Outbound OAuth2 client credentials: a route's calls carry an access token the sidecar obtains and refreshes."""
