"""Generate the Python code for protos/ with grpcio-tools; `--check` fails when it is stale."""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "apex" / "mesh" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out: Path) -> list[Path]:
    """Run protoc on every .proto of the package into `out`; return the files written."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.glob("*.proto"))
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(p for p in (out / "apex" / "mesh" / "v1").iterdir() if p.name.endswith(SUFFIXES))


def check() -> int:
    """Compare freshly generated code with what is in the tree; print what differs."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = [
            p.name
            for p in fresh
            if not (PACKAGE / p.name).exists() or not filecmp.cmp(p, PACKAGE / p.name, shallow=False)
        ]
        names = {p.name for p in fresh}
        extra = [p.name for p in PACKAGE.iterdir() if p.name.endswith(SUFFIXES) and p.name not in names]
    if stale or extra:
        print(f"generated code is stale: {', '.join(stale + extra)}; run `make protos`", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the generated code is stale")
    if parser.parse_args().check:
        return check()
    generate(ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
