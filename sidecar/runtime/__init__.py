"""Assembling a running sidecar: stacks built from policy, listeners, admin, discovery."""
