"""Endpoint discovery: the current address set of each cluster (static, DNS)."""
