"""Progress bars: shown with an ETA on a terminal, nested without clashing, silent off a terminal and in tests."""

from __future__ import annotations

import pytest

from lbm_model.progress import step, track


def run_nested() -> list[int]:
    seen = []
    for outer in track(range(3), 3, "outer work"):
        with step("inner step"):
            seen += list(track(range(outer + 1), outer + 1, "inner items"))
    return seen


@pytest.mark.parametrize("terminal", [True, False])
def test_bars_only_on_a_terminal_and_every_item_is_yielded(monkeypatch, capsys, terminal):
    monkeypatch.delenv("LBM_PROGRESS", raising=False)
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")       # rich treats stderr as a terminal
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
        monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert run_nested() == [0, 0, 1, 0, 1, 2]        # the inner display joins the outer one (no LiveError)
    err = capsys.readouterr().err
    if terminal:
        assert "outer work" in err and "3/3" in err and "ETA" in err
    else:
        assert err == ""


def test_lbm_progress_0_silences_a_terminal(monkeypatch, capsys):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("LBM_PROGRESS", "0")
    assert run_nested() == [0, 0, 1, 0, 1, 2]
    assert capsys.readouterr().err == ""
