"""The last good policy on local disk: written atomically after each applied push, read at start."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from apex.mesh.v1 import control_pb2
from google.protobuf.message import DecodeError

log = logging.getLogger(__name__)


def save(path: str | Path, push: control_pb2.PolicyPush | control_pb2.EndpointPush) -> None:
    """Write `push` to `path` via a temp file + fsync + rename, so readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(push.SerializeToString())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def endpoints_path(path: str | Path) -> Path:
    """Where the discovered endpoint sets are kept, beside the last good policy."""
    return Path(f"{path}.endpoints")


def load_endpoints(path: str | Path) -> control_pb2.EndpointPush | None:
    """The saved discovered endpoint sets, or None when there are none or they cannot be read."""
    try:
        return control_pb2.EndpointPush.FromString(endpoints_path(path).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, DecodeError) as exc:
        log.warning("cannot read saved endpoints %s: %s", endpoints_path(path), exc)
        return None


def load(path: str | Path) -> control_pb2.PolicyPush | None:
    """The saved push, or None when there is none or it cannot be read (logged)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("cannot read last good policy %s: %s", path, exc.strerror)
        return None
    try:
        push = control_pb2.PolicyPush.FromString(data)
    except DecodeError as exc:
        log.warning("last good policy %s is corrupt (%s); ignoring it", path, exc)
        return None
    if not push.HasField("policy"):
        log.warning("last good policy %s holds no policy; ignoring it", path)
        return None
    return push
