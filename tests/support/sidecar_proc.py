"""Kept for existing imports: the sidecar subprocess helper now lives in sidecar.support.sidecar_proc."""

from sidecar.support.sidecar_proc import APEX, SidecarProcess, proxy_config

__all__ = ["APEX", "SidecarProcess", "proxy_config"]
