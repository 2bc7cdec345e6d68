"""The benchmark driver (benchmarks/run_benchmarks.py, `make bench`), run on stand-in commands: the report is
rewritten after every step, a failed step is reported with its exit code and log and the run goes on, steps that
need it are skipped, repeats give median, min, max and the largest peak, an interrupt keeps the finished steps."""

from __future__ import annotations

import importlib.util
import json
import re
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_RUN = "check_table,onnx,shares,kernels,scaling,hedonic,families,bayes"


@pytest.fixture(scope="module")
def driver():
    spec = importlib.util.spec_from_file_location("run_benchmarks", ROOT / "benchmarks" / "run_benchmarks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_benchmarks"] = module        # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("run_benchmarks", None)


def bench(driver, tmp_path: Path, commands: dict[str, str], argv: tuple[str, ...] = ()):
    """A Bench whose steps run ``python -c commands[key]`` (``pass`` for the others)."""
    out = tmp_path / "report.md"
    args = driver.parse_args(["--scale", "small", "--smoke", "--work", str(tmp_path / "work"), "--out", str(out),
                              "--skip", NOT_RUN, *argv])
    work = Path(args.work)
    (work / "logs").mkdir(parents=True)
    steps = driver.plan(args, work)
    for step in steps:
        step.command = [sys.executable, "-c", commands.get(step.key, "pass")]
    return driver.Bench(args, work, out, steps), out


def test_a_failed_step_is_reported_and_the_run_goes_on(driver, tmp_path):
    out = tmp_path / "report.md"
    # verify runs after fit_ols failed: it passes only if the report already says so (written after every step)
    verify = (f"import sys; text = open({str(out)!r}).read(); "
              "sys.exit(0 if 'FAILED: fit_ols' in text and 'still to come: verify' not in text else 5)")
    sweep = f"open({str(tmp_path / 'work' / 'sweep.md')!r}, 'w').write('## the sweep section\\n')"
    runner, out = bench(driver, tmp_path, {"fit_ols": "import sys; print('ols went wrong here'); sys.exit(3)",
                                           "verify": verify, "sweep": sweep})
    assert runner.run() == 1
    text = out.read_text()
    assert runner.outcomes["fit_ols"].status == "failed"
    assert [k for k, o in runner.outcomes.items() if o.status == "done"] == [
        "world", "fit_nochecks", "score", "verify", "fit_checks", "sweep"]
    assert "### FAILED: fit_ols (fit + freeze (least squares), no checks)" in text
    assert "run 1 exited with code 3" in text and "ols went wrong here" in text
    assert "## the sweep section" in text
    assert "Not run: bayes (Bayesian samplers and prior curve on the small world (bench_bayes.py)): --skip." in text
    assert re.search(r"\| world generation \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d,]+ \| 2 \|", text)
    assert "| fit + freeze (least squares), no checks | failed |" in text
    recorded = driver.TIMINGS.search(text)
    assert recorded and set(json.loads(recorded.group(1))["seconds_per_run"]) == {
        "world", "fit_nochecks", "score", "verify", "fit_checks", "sweep"}


def test_a_run_whose_steps_all_finish_exits_0_whatever_skip_left_out(driver, tmp_path):
    runner, out = bench(driver, tmp_path, {})
    assert runner.run() == 0
    assert "finished: world, fit_nochecks, fit_ols, score, verify, fit_checks, sweep; not run: check_table" in out.read_text()


def test_steps_that_need_a_failed_step_are_skipped(driver, tmp_path):
    runner, out = bench(driver, tmp_path, {"world": "import sys; sys.exit(2)"})
    assert runner.run() == 1
    text = out.read_text()
    for key in ("fit_nochecks", "fit_ols", "fit_checks", "score", "verify"):
        assert runner.outcomes[key].status == "skipped" and not runner.outcomes[key].runs
    assert "Not run: score (score all years + aggregates): needs fit_nochecks, which did not finish." in text
    assert runner.outcomes["sweep"].status == "done"


def test_a_step_that_would_end_after_the_deadline_is_not_started(driver, tmp_path):
    runner, out = bench(driver, tmp_path, {}, ("--deadline", driver.utc_now().strftime("%H:%M")))
    assert runner.run() == 1
    assert not any(o.runs for o in runner.outcomes.values())
    assert "Not run: world (world generation): its estimate (0 min) would end after the deadline" in out.read_text()


def test_repeats_give_median_min_max_and_the_largest_peak(driver, tmp_path, monkeypatch):
    # the processes' measurements scripted (a real child's peak also counts this test process's size at the fork)
    measured = iter([(0.6, 300.0), (0.1, 700.0), (0.3, 450.0)])

    def scripted(command, log):
        log.write_text("")
        seconds, peak = next(measured) if "world" in log.name else (1.0, 10.0)
        return driver.Run("12:00:00", seconds, peak, 0.5, 0.7, 0)

    monkeypatch.setattr(driver, "run_once", scripted)
    runner, out = bench(driver, tmp_path, {}, ("--repeats", "3"))
    assert runner.run() == 0
    text = out.read_text()
    assert "| world generation | 0.3 | 0.1 | 0.6 | 700 | 3 | 0.5-0.7 |" in text
    assert "| world | 2 | 12:00:00 | 0.1 | 700 | 0.5 | 0.7 | 0 |" in text      # every process in the log
    assert '"world": 0.3' in driver.TIMINGS.search(text).group(1)             # the next run's estimate: the median


def test_an_interrupt_keeps_the_finished_steps(driver, tmp_path):
    kill_parent = "import os, signal, time; os.kill(os.getppid(), signal.SIGTERM); time.sleep(30)"
    runner, out = bench(driver, tmp_path, {"score": kill_parent})

    def interrupted(signum, frame):
        raise driver.Interrupted

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        assert runner.run() == 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    text = out.read_text()
    assert "### INTERRUPTED: score" in text and "finished: world, fit_nochecks, fit_ols" in text
    assert "still to come: verify, fit_checks" in text
    assert runner.outcomes["score"].runs == []       # the stand-in (sleeping 30 s) was stopped, not waited for


def test_estimates_come_from_the_previous_report_of_the_same_kind(driver, tmp_path):
    out = tmp_path / "previous.md"
    out.write_text('text\n<!-- bench-timings: {"scale": "small", "seconds_per_run": {"world": 7.5}, "smoke": true} -->\n')
    args = driver.parse_args(["--scale", "small", "--smoke", "--out", str(out)])
    values, source = driver.estimates(out, args, driver.plan(args, tmp_path))
    assert values["world"] == 7.5 and values["fit_ols"] == driver.ESTIMATES["smoke"]["fit_ols"]
    assert str(out) in source
    nl = driver.parse_args(["--out", str(out)])
    assert driver.estimates(out, nl, driver.plan(nl, tmp_path))[0]["world"] == driver.ESTIMATES["nl"]["world"]


def test_a_smoke_run_refuses_to_overwrite_benchmarks_md(driver, capsys):
    assert driver.main(["--scale", "small", "--smoke"]) == 2
    assert "does not overwrite the repository's BENCHMARKS.md" in capsys.readouterr().err


def test_an_unknown_step_key_is_refused(driver, tmp_path, capsys):
    assert driver.main(["--skip", "wrold", "--work", str(tmp_path), "--out", str(tmp_path / "r.md")]) == 2
    assert "--skip wrold: no such step" in capsys.readouterr().err
