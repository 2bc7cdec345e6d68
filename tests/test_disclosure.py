"""Disclosure control: no respondent ids or respondent-level rows anywhere a demo run writes,
and small areas suppressed in every published area table.

The scan covers every file under the demo's directory (tests/demo_run.py): exports (model,
audit, evidence tables and figures, scores and area aggregates), the MLflow SQLite store
(as bytes), MLflow artifacts, Hydra run directories and logs, and each command's captured
stdout and stderr. Parquet files are compressed, so they are decoded and scanned as text too.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import BIN
from demo_run import run_demo

pytestmark = pytest.mark.slow  # runs the demo: lbm-experiment x2, lbm score, lbm verify as subprocesses

MIN_HOUSEHOLDS = 10     # the primer's defaults (section 3, disclosure control)
MIN_RESPONDENTS = 10
AREA_KEYS = ("buurt_code", "wijk_code", "gemeente_code")


@pytest.fixture(scope="module")
def demo(small_world, tmp_path_factory):
    return run_demo(tmp_path_factory.getbasetemp() / "demo", small_world)


@pytest.fixture(scope="module")
def respondent_ids(small_world) -> set[bytes]:
    ids = pd.read_parquet(small_world / "survey.parquet", columns=["respondent_id"])["respondent_id"]
    assert ids.str.fullmatch(r"R\d+").all(), "the scan's token pattern assumes ids like R0000001"
    return {i.encode() for i in ids}


TOKEN = re.compile(rb"R\d+")


def _texts(path: Path):
    """The bytes of a file, plus the decoded text of a Parquet file (its pages are compressed)."""
    data = path.read_bytes()
    yield data
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        yield " ".join(table.column_names).encode()
        yield table.to_pandas().to_csv(index=False).encode()


def leaked_ids(root: Path, ids: set[bytes]) -> dict[str, list[str]]:
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        hits = {t for text in _texts(path) for t in TOKEN.findall(text) if t in ids}
        if hits:
            found[str(path.relative_to(root))] = sorted(h.decode() for h in hits)[:5]
    return found


def test_the_scan_finds_an_id_that_is_there(tmp_path, respondent_ids):
    """Positive control: an id in plain text, in the SQLite store's format and inside compressed Parquet."""
    some = sorted(respondent_ids)[:3]
    (tmp_path / "log.txt").write_bytes(b"row 5: " + some[0] + b"\n")
    (tmp_path / "runs").mkdir()
    pd.DataFrame({"id": [some[1].decode()] * 500}).to_parquet(tmp_path / "runs" / "t.parquet", compression="zstd")
    import sqlite3

    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute("create table params (key text, value text)")
        db.execute("insert into params values ('x', ?)", (some[2].decode(),))
    assert set(leaked_ids(tmp_path, respondent_ids)) == {"log.txt", "runs/t.parquet", "store.db"}


def test_no_respondent_id_in_any_file_the_demo_wrote(demo, respondent_ids):
    files = [p for p in demo.root.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".db", ".json", ".csv", ".parquet", ".png", ".log", ".yaml"} <= kinds, kinds  # the scan saw it all
    assert any("mlartifacts" in p.parts for p in files) and any(p.name == "experiment.log" for p in files)
    assert leaked_ids(demo.root, respondent_ids) == {}


def _tables(root: Path):
    for path in sorted(root.rglob("*")):
        if path.suffix == ".csv":
            yield path, pd.read_csv(path)
        elif path.suffix == ".parquet":
            yield path, pd.read_parquet(path)


def test_no_respondent_level_table_is_written(demo, small_world):
    n_respondents = len(pd.read_parquet(small_world / "survey.parquet", columns=["respondent_id"]))
    seen = 0
    for path, frame in _tables(demo.root):
        seen += 1
        assert not {"respondent_id", "response", "weight_survey"} & set(map(str, frame.columns)), path
        assert len(frame) != n_respondents, f"{path} has one row per respondent"
    assert seen >= 10


def test_area_aggregates_suppress_areas_below_the_minimum(demo):
    suppressed = 0
    for level in ("buurt", "wijk", "gemeente"):
        frame = pd.read_parquet(demo.exports["a"] / f"scores_{level}.parquet")
        small = frame["households"] < MIN_HOUSEHOLDS
        assert ((frame["suppression"] == "primary") == small).all(), level
        assert (frame["suppressed"] == (frame["suppression"] != "")).all(), level   # primary or complementary
        figures = [c for c in frame.columns if c == "score" or c in ("fys", "won", "vrz", "soc", "onv")
                   or c.startswith("households_class_")]
        assert frame.loc[small, figures].isna().all().all(), level
        assert frame.loc[~frame["suppressed"], "score"].notna().all(), level
        suppressed += int(small.sum())
    assert suppressed > 0, "the small world should have areas below the minimum, or this test shows nothing"


def test_published_area_tables_suppress_small_areas(demo):
    """Evidence tables, MLflow artifacts and aggregates: no figure for an area below the minimum counts."""
    checked = 0
    for path, frame in _tables(demo.root):
        keys = [c for c in AREA_KEYS if c in frame.columns]
        if not keys or "cell_id" in frame.columns:
            continue
        figures = [c for c in frame.columns if c not in (*AREA_KEYS, "year", "households", "respondents", "cells",
                                                         "suppressed", "suppression", "min_households")]
        for count, minimum in (("respondents", MIN_RESPONDENTS), ("households", MIN_HOUSEHOLDS)):
            if count in frame.columns:
                small = frame[count] < minimum
                shown = frame.loc[small, figures].notna().any(axis=1)
                assert not shown.any(), f"{path}: {int(shown.sum())} area(s) below {minimum} {count} with figures"
                checked += 1
    assert checked >= 5


def test_error_messages_never_show_respondent_ids(small_world, tmp_path, respondent_ids):
    """Refused survey rows are named by row number, never by respondent id."""
    survey = pd.read_parquet(small_world / "survey.parquet")
    for problem, change in {
        "duplicate": lambda s: s.assign(respondent_id=s["respondent_id"].where(s.index != 9, s["respondent_id"][8])),
        "cell": lambda s: s.assign(cell_id=s["cell_id"].where(s.index != 2, "E0000N0000")),
    }.items():
        bad = tmp_path / f"survey-{problem}.parquet"
        change(survey).to_parquet(bad, index=False)
        done = subprocess.run([str(BIN / "lbm-experiment"), "data=files", f"data.cells={small_world / 'cells.parquet'}",
                               f"data.survey={bad}", f"data.catalog={small_world / 'catalog.yaml'}",
                               f"export.dir={tmp_path / 'export'}", "tracking.enabled=false",
                               f"hydra.run.dir={tmp_path / 'runs'}"], capture_output=True, text=True, timeout=600)
        assert done.returncode == 2 and "row" in done.stderr, done.stderr[-2000:]
        output = (done.stdout + done.stderr).encode()
        assert not {t for t in TOKEN.findall(output) if t in respondent_ids}, problem
    assert leaked_ids(tmp_path / "runs", respondent_ids) == {}
