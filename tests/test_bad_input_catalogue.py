"""The bad-input catalogue through the real commands (lbm-experiment, lbm score, lbm outputs, lbm validate, lbm world).

One test per case in tests/bad_input_cases.py: the exit code is the expected non-zero one,
the message names file, column, rows and expectation (a regex per case), no traceback is
printed, and nothing is written at the output path. The cases run once per session, one after
another in this process through the commands' console-script entry points (set
LBM_BAD_INPUT_SUBPROCESS=1 to run them as real subprocesses instead); one test runs a case per
command both ways and requires the same exit code, message, output and files.
docs/bad-input.md must show the message each case gives.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bad_input_cases import (CASES, EXPORT, ROOT, SCORES, Outcome, Workspace, command_line, make_model, normalise,
                             run_all, run_case)

DOC = ROOT / "docs" / "bad-input.md"
# One case per command, each through a different exit path: Hydra's own override error (sys.exit(1)
# in @hydra.main), a click usage error shown by typer, and our own error in an lbm command.
COMPARED_WITH_SUBPROCESS = ("override-typo-key", "score-option-typo", "world-out-is-a-file",
                            "outputs-groups-unknown-group", "reference-unknown-level", "export-onnx-input-type")


def _process_state() -> dict:
    """What an in-process case may touch and must put back."""
    state = {"cwd": os.getcwd(), "argv": list(sys.argv), "environ": dict(os.environ), "main": sys.modules["__main__"],
             "root handlers": list(logging.getLogger().handlers), "root level": logging.getLogger().level,
             "warning filters": list(warnings.filters), "showwarning": warnings.showwarning}
    # MLflow's process-wide tracking URI (None while unset or MLflow is not imported)
    state["mlflow tracking uri"] = getattr(sys.modules.get("mlflow.tracking._tracking_service.utils"), "_tracking_uri",
                                           None)
    if "hydra.core.global_hydra" in sys.modules:
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig

        state |= {"GlobalHydra": GlobalHydra.instance().is_initialized(), "HydraConfig": HydraConfig.initialized()}
    return state


@pytest.fixture(scope="session")
def catalogue_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad-input")
    model_dir = make_model(work / "_model")   # before the snapshot: its imports set warning filters and variables
    before = _process_state()
    outcomes = run_all(CASES, work, model_dir=model_dir)
    return outcomes, before, _process_state()


@pytest.fixture(scope="session")
def outcomes(catalogue_run):
    return catalogue_run[0]


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


def test_running_the_cases_leaves_the_process_as_it_was(catalogue_run):
    """Hydra (GlobalHydra, HydraConfig, its logging set-up), cwd, argv, environment and warnings are put back."""
    outcomes, before, after = catalogue_run
    before.setdefault("GlobalHydra", False)
    before.setdefault("HydraConfig", False)
    assert after == before
    work = str(next(iter(outcomes.values())).root.parent)
    logging_into_cases = [h for h in logging.getLogger().handlers
                          if str(getattr(h, "baseFilename", "")).startswith(work)]
    assert not logging_into_cases


def test_catalogue_covers_every_input_and_command():
    inputs = {c.input for c in CASES}
    commands = {c.command for c in CASES}
    assert {"cells", "survey", "transactions", "reference", "catalog", "config", "model", "output"} <= inputs
    assert commands == {"lbm-experiment", "lbm score", "lbm outputs", "lbm validate", "lbm world", "lbm export-onnx"}
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


def _streams(outcome: Outcome) -> tuple[str, str]:
    return tuple(text.replace(str(outcome.root), "<case>") for text in (outcome.stdout, outcome.stderr))


def test_in_process_runs_match_the_real_commands(tmp_path, model_dir):
    """The in-process harness is faithful: the real console scripts give the same exit code, message, output, files."""
    cases = [c for c in CASES if c.id in COMPARED_WITH_SUBPROCESS]
    assert {c.command for c in cases} == {c.command for c in CASES}
    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        real = list(pool.map(lambda c: run_case(c, tmp_path / "subprocess" / c.id, model_dir, subprocess=True), cases))
    for case, sub in zip(cases, real):
        here = run_case(case, tmp_path / "in-process" / case.id, model_dir, subprocess=False)
        assert (here.returncode, here.message, here.written) == (sub.returncode, sub.message, sub.written), case.id
        assert _streams(here) == _streams(sub), case.id


@pytest.mark.slow
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
