"""The notebooks in notebooks/: committed without outputs, and executed end to end (nbclient, a real Jupyter
kernel) on the small world: the researcher's candidate-indicator comparison and the reviewer's audit of a run.
Each notebook asserts its own quick checks, so a cell that fails fails the test."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, run_lbm_experiment

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_for_the_researcher_and_one_for_the_reviewer():
    assert {p.name for p in NOTEBOOKS} >= {"candidate_indicator.ipynb", "audit_a_run.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(path):
    """Outputs stay out of git (they hold run-specific paths and figures): strip with `.venv/bin/nbstripout FILE`."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert dirty == [], f"{path.name}: cells {dirty} have outputs; run .venv/bin/nbstripout {path.relative_to(ROOT)}"


def execute(path: Path, cwd: Path, env: dict[str, str], monkeypatch) -> nbformat.NotebookNode:
    """Run every cell of ``path`` in a fresh python3 kernel started in ``cwd`` with ``env`` set."""
    from nbclient import NotebookClient

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def text_outputs(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs)


@pytest.mark.slow
def test_the_candidate_indicator_notebook_runs_on_the_small_world(small_world, tmp_path, monkeypatch):
    notebook = execute(ROOT / "notebooks" / "candidate_indicator.ipynb", tmp_path, {"LBM_WORLD": str(small_world)},
                       monkeypatch)
    text = text_outputs(notebook)
    assert "signal |z| >=" in text and "comparison report:" in text


@pytest.mark.slow
def test_the_audit_notebook_runs_on_a_run(small_world, tmp_path, monkeypatch):
    done = run_lbm_experiment(tmp_path, small_world, "model=ols", f"export.dir={tmp_path}/export",
                              "checks.run=[residual_autocorrelation]", "checks.spatial.levels=[buurt]",
                              "checks.spatial.weights=[knn]")
    assert done.returncode == 0, done.stderr[-3000:]
    notebook = execute(ROOT / "notebooks" / "audit_a_run.ipynb", tmp_path, {"LBM_RUN": str(tmp_path / "export")},
                       monkeypatch)
    text = text_outputs(notebook)
    assert "evidence files match audit.json" in text and "embedded figures" in text
