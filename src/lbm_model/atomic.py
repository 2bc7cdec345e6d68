"""Atomic file output: write beside the target, fsync, then rename over it.

A process killed midway (even by SIGKILL) leaves the previous file, if any, intact and no
partial file at the target path. What it can leave is a hidden temporary file beside the
target, named ``.<name>.tmp-<pid>-<random>``; the next write to the same target removes
such leftovers once the process that made them no longer runs (docs/guarantees.md).

Several outputs that belong together (cell scores and their area aggregates) are written
with :func:`write_many_atomic`: every file is written completely before the first one is
renamed into place, so a failure while writing leaves all previous files unchanged.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lbm_model.errors import LbmError

Writer = Callable[[Path], None]


def temp_files_beside(target: str | Path) -> list[Path]:
    """Hidden temporary files of unfinished writes to ``target`` (of any process)."""
    target = Path(target)
    prefix = f".{target.name}.tmp-"
    try:
        return sorted(p for p in target.parent.iterdir() if p.name.startswith(prefix))
    except OSError:
        return []


def _writer_alive(temp: Path, prefix: str) -> bool:
    """Whether the process named in a temp file's name may still be writing it."""
    pid_text = temp.name[len(prefix):].split("-", 1)[0]
    if not pid_text.isdigit():
        return True  # not one of ours, or an older layout: leave it alone
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a live process of another user
    return True


def remove_stale_temp_files(target: str | Path) -> list[Path]:
    """Remove leftovers of writes to ``target`` whose writing process has ended; returns them."""
    target = Path(target)
    prefix = f".{target.name}.tmp-"
    removed = []
    for temp in temp_files_beside(target):
        if not _writer_alive(temp, prefix):
            try:
                if temp.is_dir():
                    shutil.rmtree(temp)
                else:
                    temp.unlink()
                removed.append(temp)
            except OSError:
                pass
    return removed


def _new_temp(target: Path) -> Path:
    """Create an empty temp file beside ``target`` with the permissions a plain write would give."""
    while True:
        temp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        except FileExistsError:
            continue
        try:
            if target.exists():
                os.fchmod(fd, stat.S_IMODE(target.stat().st_mode))  # keep a replaced file's permissions
        finally:
            os.close(fd)
        return temp


def staging_directory(target: str | Path, create: bool = True) -> Path:
    """A new hidden ``.<name>.tmp-<pid>-<random>`` path beside ``target`` (a directory when ``create``).

    Staged outputs are moved onto ``target`` when complete; leftovers of a killed process are
    removed by :func:`remove_stale_temp_files` like any other temp file of ``target``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        if not path.exists():
            if create:
                path.mkdir()
            return path


def fsync_path(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some file systems cannot fsync a directory; the rename is still atomic
            raise
    finally:
        os.close(fd)


def write_many_atomic(items: Iterable[tuple[str | Path, Writer]]) -> list[Path]:
    """Write every ``(target, write)`` to a temp file, then rename all of them into place.

    ``write(tmp_path)`` must write the complete file at ``tmp_path``. An OSError (no space,
    no permission, target is a directory) becomes an LbmError naming the target; in every
    failure all previous files stay as they were and the temp files are removed.
    """
    items = [(Path(target), write) for target, write in items]
    for target, _ in items:
        if target.is_dir():
            raise LbmError(f"{target}: is a directory; expected a file path to write to. Nothing was written.")
    temps: list[tuple[Path, Path]] = []
    current = items[0][0] if items else Path(".")
    try:
        for target, write in items:
            current = target
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temp_files(target)
            temp = _new_temp(target)
            temps.append((temp, target))
            write(temp)
            fsync_path(temp)
        for temp, target in temps:
            current = target
            os.replace(temp, target)
        for directory in sorted({target.parent for _, target in temps}):
            fsync_path(directory, directory=True)
    except OSError as exc:
        raise LbmError(f"{current}: cannot write the output ({exc.strerror or exc}); "
                       "the previous file, if any, is unchanged.") from None
    finally:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
    return [target for target, _ in items]


def write_directory_atomic(target_dir: str | Path, write: Writer) -> Path:
    """Call ``write(tmp_dir)`` to fill a fresh directory, then move its files into ``target_dir``.

    The files are written in a hidden ``.<name>.tmp-<pid>-<random>`` directory beside the
    target and moved into place one rename each only after ``write`` has finished, so a run
    killed while writing leaves every file at the target as it was (a new file complete or
    absent). Files already in ``target_dir`` that ``write`` does not produce are kept.
    """
    target_dir = Path(target_dir)
    if target_dir.exists() and not target_dir.is_dir():
        raise LbmError(f"{target_dir}: is a file; expected a directory to write into. Nothing was written.")
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(target_dir)
        temp = _new_temp(target_dir)
        temp.unlink()
        temp.mkdir()
    except OSError as exc:
        raise LbmError(f"{target_dir}: cannot write the output ({exc.strerror or exc}).") from None
    try:
        write(temp)
        files = sorted(p for p in temp.rglob("*") if p.is_file())
        for path in files:
            fsync_path(path)
        target_dir.mkdir(exist_ok=True)
        for path in files:
            destination = target_dir / path.relative_to(temp)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
        fsync_path(target_dir, directory=True)
    except OSError as exc:
        raise LbmError(f"{target_dir}: cannot write the output ({exc.strerror or exc}); files not yet moved "
                       "into place are unchanged.") from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target_dir


def write_atomic(target: str | Path, write: Writer) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` in one rename."""
    return write_many_atomic([(target, write)])[0]


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    return write_atomic(target, lambda p: p.write_bytes(data))


def _table_writer(frame, target: Path) -> Writer:
    suffix = target.suffix.lower()
    if suffix == ".parquet":
        return lambda p: frame.to_parquet(p, index=False)
    if suffix == ".csv":
        return lambda p: frame.to_csv(p, index=False, lineterminator="\n")
    raise LbmError(f"{target}: unsupported output type '{suffix}'; expected .parquet or .csv.")


def write_table_atomic(frame, target: str | Path) -> Path:
    """Write a DataFrame as Parquet or CSV, chosen by the target's extension."""
    target = Path(target)
    return write_atomic(target, _table_writer(frame, target))


def write_tables_atomic(tables: dict) -> list[Path]:
    """Write several DataFrames ``{target: frame}`` all or nothing (see write_many_atomic)."""
    return write_many_atomic([(Path(t), _table_writer(frame, Path(t))) for t, frame in tables.items()])


@contextmanager
def exclusive_lock(key: str) -> Iterator[None]:
    """An exclusive inter-process lock named by ``key`` (a lock file in the temp directory; POSIX only,
    a no-op elsewhere). Processes that use one key, e.g. the jobs of a parallel sweep, run the
    guarded block one at a time."""
    if os.name == "nt":
        yield
        return
    import fcntl

    name = hashlib.sha256(key.encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"lbm-lock-{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
