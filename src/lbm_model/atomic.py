"""Atomic file output: write beside the target, fsync, then rename over it.

A process killed midway leaves the previous file (if any) intact and no partial file at
the target path; at worst a hidden ``.<name>.tmp-*`` file remains beside it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(target: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return target


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    return write_atomic(target, lambda p: p.write_bytes(data))


def write_table_atomic(frame, target: str | Path) -> Path:
    """Write a DataFrame as Parquet or CSV, chosen by the target's extension."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix == ".parquet":
        return write_atomic(target, lambda p: frame.to_parquet(p, index=False))
    if suffix == ".csv":
        return write_atomic(target, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))
    from lbm_model.errors import LbmError

    raise LbmError(f"{target}: unsupported output type '{suffix}'; expected .parquet or .csv.")
