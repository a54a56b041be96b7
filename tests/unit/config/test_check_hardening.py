"""`apex sidecar --check` on hostile files (issue 10.c/d): an error naming file, path and reason, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sidecar.support.sidecar_proc import proxy_config

APEX = [sys.executable, "-m", "sidecar"]


def _config(**cluster: object) -> dict[str, object]:
    config = proxy_config("127.0.0.1:15011")
    config["policy"]["clusters"][0].update(cluster)  # type: ignore[index]
    return config


def check(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [*APEX, "sidecar", "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def _cases(tmp: Path) -> dict[str, tuple[bytes, str]]:
    good = yaml.safe_dump(proxy_config("127.0.0.1:15011"))
    deep = "node: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"
    return {
        "nested": (deep.encode(), "nest"),
        "duration": (yaml.safe_dump(_config(dns_refresh="99999999999999999999s")).encode(),
                     "policy.clusters[0].dns_refresh: '99999999999999999999s' is longer than the maximum"),
        "utf8": (good.encode() + b"# \xff\xfe\n", "not UTF-8: byte 0xff"),
        "duplicate": ((good + "admin: {address: '127.0.0.1:0'}\n").encode(), "duplicate key 'admin'"),
        "ipv4": (good.replace("127.0.0.1:15011", "999.1.1.1:15011").encode(),
                 "policy.clusters[0].endpoints[0].address: bad address '999.1.1.1:15011'"),
        "port": (good.replace("127.0.0.1:15011", "127.0.0.1:70000").encode(), "port 70000 is outside"),
    }  # fmt: skip


@pytest.mark.parametrize("case", ["nested", "duration", "utf8", "duplicate", "ipv4", "port"])
def test_bad_config_is_an_error_naming_file_and_reason(tmp_path: Path, case: str) -> None:
    content, expected = _cases(tmp_path)[case]
    path = tmp_path / f"{case}.yaml"
    path.write_bytes(content)
    result = check(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"apex sidecar: invalid config: {path}: "), result.stderr
    assert expected in result.stderr


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    config = proxy_config("127.0.0.1:15011")
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(config) + "# " + "x" * 2_000_000 + "\n")
    result = check(path)
    assert result.returncode == 2
    size = path.stat().st_size
    assert f"{path}: <root>: file is {size} bytes" in result.stderr
    assert "over the limit of 1048576 bytes (1 MiB; APEX_MAX_CONFIG_BYTES)" in result.stderr
    assert check(path, {"APEX_MAX_CONFIG_BYTES": "4MiB"}).returncode == 0  # the limit is configurable


def test_a_policy_over_the_policy_limit_is_refused(tmp_path: Path) -> None:
    config = proxy_config("127.0.0.1:15011")
    config["policy"]["clusters"][0]["authority"] = "a" * 5000  # type: ignore[index]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(config))
    result = check(path, {"APEX_MAX_POLICY_BYTES": "4KiB"})
    assert result.returncode == 2
    assert "policy: policy is" in result.stderr and "over the limit of 4096 bytes" in result.stderr
    assert check(path).returncode == 0
