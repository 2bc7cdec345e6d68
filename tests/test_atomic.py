"""Atomic outputs and concurrent tracking.

A write killed midway (SIGKILL, in a separate process) leaves the previous file intact and
no partial file at the target; leftovers of killed writers are removed by the next write;
several processes logging to one fresh SQLite tracking store at once lose no runs.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import BIN, ROOT, tiny_tables
from lbm_model.atomic import (remove_stale_temp_files, temp_files_beside, write_atomic, write_bytes_atomic,
                              write_directory_atomic, write_many_atomic, write_table_atomic)
from lbm_model.errors import LbmError
from lbm_model.frozen import read_frozen_model

PY = str(BIN / "python")


def test_write_replaces_the_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out" / "scores.csv"
    write_table_atomic(pd.DataFrame({"a": [1, 2]}), target)
    write_table_atomic(pd.DataFrame({"a": [3]}), target)
    assert target.read_text() == "a\n3\n"
    assert temp_files_beside(target) == []


def test_a_failing_writer_leaves_the_previous_file_and_no_temp(tmp_path):
    target = tmp_path / "model.json"
    target.write_bytes(b"previous")

    def half_then_fail(path: Path) -> None:
        path.write_bytes(b"half a new fi")
        raise RuntimeError("writer crashed")

    with pytest.raises(RuntimeError):
        write_atomic(target, half_then_fail)
    assert target.read_bytes() == b"previous" and temp_files_beside(target) == []


def test_disk_full_is_a_clean_user_error(tmp_path):
    target = tmp_path / "scores.parquet"
    target.write_bytes(b"previous")

    def no_space(path: Path) -> None:
        path.write_bytes(b"x")
        raise OSError(28, "No space left on device")

    with pytest.raises(LbmError, match=r"scores\.parquet: cannot write the output \(No space left on device\); "
                                       r"the previous file, if any, is unchanged"):
        write_atomic(target, no_space)
    assert target.read_bytes() == b"previous" and temp_files_beside(target) == []


def test_a_directory_at_the_target_is_refused(tmp_path):
    (tmp_path / "scores.csv").mkdir()
    with pytest.raises(LbmError, match="is a directory"):
        write_bytes_atomic(tmp_path / "scores.csv", b"x")


def test_group_write_is_all_or_nothing(tmp_path):
    first, second = tmp_path / "scores.csv", tmp_path / "scores_buurt.csv"
    first.write_bytes(b"old cells")
    second.write_bytes(b"old buurten")

    def fail(path: Path) -> None:
        raise OSError(5, "Input/output error")

    with pytest.raises(LbmError):
        write_many_atomic([(first, lambda p: p.write_bytes(b"new cells")), (second, fail)])
    assert first.read_bytes() == b"old cells" and second.read_bytes() == b"old buurten"
    assert temp_files_beside(first) == [] and temp_files_beside(second) == []


def test_permissions_follow_the_umask_and_a_replaced_file_keeps_its_mode(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = write_bytes_atomic(tmp_path / "fresh.json", b"{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        private = tmp_path / "private.json"
        private.write_bytes(b"old")
        private.chmod(0o600)
        write_bytes_atomic(private, b"new")
        assert stat.S_IMODE(private.stat().st_mode) == 0o600 and private.read_bytes() == b"new"
    finally:
        os.umask(umask)


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "scores.parquet"
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    alive = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".scores.parquet.tmp-{dead}-0000abcd"
        live = tmp_path / f".scores.parquet.tmp-{alive.pid}-0000abcd"
        foreign = tmp_path / ".scores.parquet.tmp-unknownlayout"
        for path in (stale, live, foreign):
            path.write_bytes(b"partial")
        assert remove_stale_temp_files(target) == [stale]
        write_bytes_atomic(target, b"complete")
        assert not stale.exists() and live.exists() and foreign.exists() and target.read_bytes() == b"complete"
    finally:
        alive.kill()
        alive.wait()


def test_directory_write_moves_complete_files_only(tmp_path):
    target = tmp_path / "world"
    target.mkdir()
    (target / "keep.txt").write_text("kept")
    (target / "cells.parquet").write_text("old")

    def crash(directory: Path) -> None:
        (directory / "cells.parquet").write_text("new but the survey is missing")
        raise RuntimeError("generator crashed")

    with pytest.raises(RuntimeError):
        write_directory_atomic(target, crash)
    assert (target / "cells.parquet").read_text() == "old"
    write_directory_atomic(target, lambda d: (d / "cells.parquet").write_text("new"))
    assert (target / "cells.parquet").read_text() == "new" and (target / "keep.txt").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["world"]


# ---- SIGKILL in the middle of a write --------------------------------------------------------------
SLOW_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import lbm_model.atomic as atomic

    kind, target = sys.argv[1], Path(sys.argv[2])
    real_fsync = atomic.fsync_path

    def stall_before_rename(path, directory=False):
        real_fsync(path, directory)
        if not directory:
            print("written, not yet renamed", flush=True)
            time.sleep(60)

    def slow_bytes(path):
        with open(path, "wb") as handle:
            for i in range(1000):
                handle.write(b"%06d new content line\\n" % i)
                handle.flush()
                if i == 10:
                    print("writing", flush=True)
                time.sleep(0.05)

    if kind == "bytes":
        atomic.write_atomic(target, slow_bytes)
    elif kind == "frozen":
        import json
        from lbm_model.frozen import write_frozen_model
        document = json.loads(Path(sys.argv[3]).read_text())
        document["content"]["model_version"] = "the new model"
        atomic.fsync_path = stall_before_rename
        write_frozen_model(target.parent, document["content"], {"run": "killed"})
""")


def _kill_when(argv: list[str], marker: str, cwd: Path) -> None:
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert marker in line, proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_while_writing_leaves_the_previous_file(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_WRITER)
    target = tmp_path / "report.txt"
    target.write_bytes(b"the previous report\n")
    _kill_when([PY, str(script), "bytes", str(target)], "writing", tmp_path)
    assert target.read_bytes() == b"the previous report\n"
    leftovers = temp_files_beside(target)
    assert len(leftovers) == 1 and b"new content line" in leftovers[0].read_bytes()  # the kill hit mid-write
    write_bytes_atomic(target, b"the next report\n")
    assert target.read_bytes() == b"the next report\n" and temp_files_beside(target) == []


@pytest.mark.slow
def test_sigkill_during_freeze_keeps_the_previous_model(tmp_path):
    from bad_input_cases import make_model

    model_dir = make_model(tmp_path / "source")
    export = tmp_path / "export"
    export.mkdir()
    previous = (model_dir / "model.json").read_bytes()
    (export / "model.json").write_bytes(previous)
    script = tmp_path / "slow.py"
    script.write_text(SLOW_WRITER)
    _kill_when([PY, str(script), "frozen", str(export / "model.json"), str(model_dir / "model.json")],
               "written, not yet renamed", tmp_path)
    assert (export / "model.json").read_bytes() == previous
    assert read_frozen_model(export)["content"]["model_version"] == "bad-input-catalogue"
    leftover = temp_files_beside(export / "model.json")
    assert len(leftover) == 1 and b"the new model" in leftover[0].read_bytes()


@pytest.fixture(scope="module")
def big_scoring_job(tmp_path_factory):
    """A frozen model and a cells table large enough that `lbm score` takes a few seconds."""
    from bad_input_cases import make_model

    work = tmp_path_factory.mktemp("kill-score")
    model_dir = make_model(work / "source")
    cells, _, _ = tiny_tables()
    copies = 3000
    big = pd.concat([cells] * copies, ignore_index=True)
    block = np.repeat(np.arange(copies), len(cells))
    big["cell_id"] = big["cell_id"] + "-" + block.astype(str)
    big.to_parquet(work / "cells.parquet", index=False)
    return work, model_dir


@pytest.mark.slow
def test_sigkill_during_real_scoring_never_leaves_a_partial_output(big_scoring_job):
    """Kill `lbm score` at several moments; each output is the previous file or the complete new one."""
    work, model_dir = big_scoring_job
    outputs = [work / "scores.csv", work / "scores_buurt.csv"]
    argv = [str(BIN / "lbm"), "score", "--model", str(model_dir), "--cells", str(work / "cells.parquet"),
            "--out", str(outputs[0]), "--aggregate", "buurt"]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    duration = time.perf_counter() - started
    complete = {p: p.read_bytes() for p in outputs}
    states = []
    for fraction in (0.35, 0.5, 0.65, 0.75, 0.85, 0.95):
        for path in outputs:
            path.write_bytes(b"previous " + path.name.encode())
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for path in outputs:
            data = path.read_bytes()
            assert data in (b"previous " + path.name.encode(), complete[path]), f"partial {path.name} after a kill"
            states.append("new" if data == complete[path] else "previous")
        states.append("temp" if any(temp_files_beside(p) for p in outputs) else "-")
    subprocess.run(argv, check=True, capture_output=True)  # the next run cleans up after the killed ones
    assert all(temp_files_beside(p) == [] for p in outputs)
    assert {p: p.read_bytes() for p in outputs} == complete
    print("kill outcomes", states)
    assert "previous" in states, states  # at least one kill landed before the rename


# ---- concurrent tracking ---------------------------------------------------------------------------
TRACKED_WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import pandas as pd
    from lbm_model.tracking import log_recalibration, tracked_run

    uri, artifacts, n = sys.argv[1], sys.argv[2], sys.argv[3]
    model = Path(f"model{n}.json")
    model.write_text("{}")
    fit_metrics = {f"stat{k}": float(k) for k in range(20)}
    with tracked_run(True, uri, artifacts, "lbm-concurrency", f"run-{n}") as run:
        log_recalibration({"process": n, "params": {f"p{k}": k for k in range(40)}}, fit_metrics,
                          pd.DataFrame({"weight": range(5)}), model, {"process": n})
    print(run.info.run_id)
""")


@pytest.mark.slow
def test_concurrent_processes_on_a_fresh_sqlite_store_lose_no_runs(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(TRACKED_WRITER)
    n = 4
    procs = [subprocess.Popen([PY, str(script), "sqlite:///store.db", "mlartifacts", str(i)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    results = [(p.communicate(timeout=300), p.returncode) for p in procs]
    failures = [err[-2000:] for (out, err), code in results if code != 0]
    assert not failures, failures
    run_ids = {out.strip() for (out, _), _ in results}
    with sqlite3.connect(tmp_path / "store.db") as db:
        rows = db.execute("select run_uuid, status from runs").fetchall()
        params = db.execute("select count(*) from params where key = 'process'").fetchone()[0]
    assert {r for r, _ in rows} == run_ids and len(run_ids) == n
    assert {s for _, s in rows} == {"FINISHED"} and params == n
