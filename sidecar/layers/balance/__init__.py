"""Load balancers: pick an endpoint of a cluster for each call (sans-IO)."""
