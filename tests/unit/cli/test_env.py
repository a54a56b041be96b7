"""APEX_* environment variables fill `apex sidecar` flags that were not given; flags win."""

from __future__ import annotations

from sidecar.cli import build_parser, env


def test_env_fills_missing_flags_only() -> None:
    args = build_parser().parse_args(["sidecar", "--admin", "127.0.0.1:1"])
    taken = env.apply(
        args, {"APEX_CONFIG": "/etc/apex/sidecar.yaml", "APEX_ADMIN": "0.0.0.0:9901", "APEX_SERVICE": " "}
    )
    assert args.config == "/etc/apex/sidecar.yaml"
    assert args.admin == "127.0.0.1:1"  # the flag wins over APEX_ADMIN
    assert args.service is None  # blank values are ignored
    assert taken == {"config": "APEX_CONFIG"}


def test_variables_for_flags_this_build_lacks_are_ignored() -> None:
    args = build_parser().parse_args(["sidecar"])
    before = vars(args).copy()
    absent = {flag: var for flag, var in env.SIDECAR_ENV.items() if flag not in before}
    taken = env.apply(args, {var: "x:1" for var in absent.values()})
    assert taken == {}
    assert vars(args) == before
