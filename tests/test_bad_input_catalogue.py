"""The bad-input catalogue through the real commands (lbm-experiment, lbm score, lbm world).

One test per case in tests/bad_input_cases.py: the exit code is the expected non-zero one,
the message names file, column, rows and expectation (a regex per case), no traceback is
printed, and nothing is written at the output path. The cases run once per session as
subprocesses, three at a time; docs/bad-input.md must show the message each case gives.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bad_input_cases import CASES, EXPORT, ROOT, SCORES, Workspace, command_line, make_model, normalise, run_all

DOC = ROOT / "docs" / "bad-input.md"


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory):
    return run_all(CASES, tmp_path_factory.mktemp("bad-input"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_cleanly(case, outcomes):
    outcome = outcomes[case.id]
    shown = f"exit {outcome.returncode}\nstderr:\n{outcome.stderr[-3000:]}"
    assert outcome.returncode == case.exit_code, shown
    assert "Traceback" not in outcome.stderr + outcome.stdout, shown
    assert re.search(case.expect, outcome.message), f"message {outcome.message!r} does not match {case.expect!r}"
    if case.warning:
        assert "out/export/model.json" in outcome.written, "an accepted input must still give a model"
    else:
        assert outcome.written == [], f"a refused run wrote {outcome.written}"
        assert not (outcome.root / "out").exists()


def test_catalogue_covers_every_input_and_command():
    inputs = {c.input for c in CASES}
    commands = {c.command for c in CASES}
    assert {"cells", "survey", "catalog", "config", "model", "output"} <= inputs
    assert commands == {"lbm-experiment", "lbm score", "lbm world"}
    assert len({c.id for c in CASES}) == len(CASES)


def test_docs_list_the_message_of_every_case(outcomes):
    text = DOC.read_text(encoding="utf-8")
    stale = [c.id for c in CASES
             if f"`{c.id}`" not in text or normalise(outcomes[c.id].message).replace("|", "\\|") not in text]
    assert not stale, (f"docs/bad-input.md is out of date for {stale}; regenerate it with "
                       "`.venv/bin/python tests/bad_input_cases.py --write docs/bad-input.md`")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model"))


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_refused_runs_leave_previous_outputs_as_they_were(tmp_path, model_dir):
    """A model and scores from an earlier run stay byte-for-byte when a later run is refused."""
    ws = Workspace(tmp_path, model_dir)
    export, scores = tmp_path / EXPORT, tmp_path / SCORES
    export.mkdir(parents=True)
    (export / "model.json").write_bytes((model_dir / "model.json").read_bytes())
    scores.write_bytes(b"previous scores")
    before = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    cells = ws.cells.copy()
    cells.loc[3, "y"] = 700_000.0
    ws.save("cells", cells)
    experiment = _run(command_line(CASES[0], ws, []), tmp_path)
    score = _run(command_line(next(c for c in CASES if c.command == "lbm score"), ws, []), tmp_path)
    for done in (experiment, score):
        assert done.returncode == 2 and "coordinates outside the Netherlands" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    after = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before
