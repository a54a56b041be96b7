"""`apex sidecar --config FILE` with flags: the flags fill the file's fields before it is validated."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from sidecar.cli import build_parser, sidecar_cmd
from sidecar.policy.errors import ConfigError

# mTLS with certificates from the mesh CA is valid only with a control plane to ask them of.
CONFIG = {
    "node": {"service": "catalog", "instance": "catalog-1"},
    "security": {"join_token": {"env": "APEX_JOIN_CATALOG"}},
    "listeners": [{"name": "inbound", "address": "127.0.0.1:0", "direction": "INBOUND", "mtls": "strict"}],
    "policy": {
        "route_tables": [{"name": "inbound", "routes": [{"name": "local", "cluster": "local"}]}],
        "clusters": [{"name": "local", "endpoints": [{"address": "127.0.0.1:9"}]}],
    },
}


def _args(path: Path, *argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["sidecar", "--config", str(path), *argv])


def test_control_plane_flag_counts_before_validation(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    with pytest.raises(ConfigError, match="without a control plane, mTLS needs certificate files"):
        sidecar_cmd.load(_args(path))
    config, model, _ = sidecar_cmd.load(_args(path, "--control-plane", "127.0.0.1:7700"))
    assert config.control_plane == "127.0.0.1:7700"
    assert model.control_plane is not None
