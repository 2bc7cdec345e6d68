"""`make bench`: every benchmark of the project in one run, written to one Markdown report (BENCHMARKS.md).

Usage: .venv/bin/python benchmarks/run_benchmarks.py [--scale nl] [--repeats 3] [--out BENCHMARKS.md]
       [--work bench-work] [--skip KEY,...] [--deadline HH:MM] [--smoke]

Steps (``--skip`` takes their keys): the pipeline's real commands, each run ``--repeats`` times in its own process
(world, fit_nochecks, fit_ols, score, verify, fit_checks: median, min and max of the wall time, peak memory the
largest maximum resident set size of the runs, os.wait4); then, in child processes, the per-check table of the
full-check runs (check_table: ``check.<name>.seconds`` from their MLflow runs, verdicts from audit.json), the ONNX
export against the Python scorer on the whole world (onnx) and the class shares (shares); then the peer benchmarks,
each a script beside this one with its own repeats (kernels, scaling, sweep, hedonic, families, bayes).

The report is rewritten after every run of every step with the sections that exist so far, a status line naming
the steps still to come and the failed ones, and a log of every process (start, seconds, peak memory, one-minute
load average before and after, exit code), so a failure or a kill late in the run keeps what was measured.
A failed step is reported (exit code and the last lines of its log) and the run goes on with the next step; steps
that need its output are skipped; the driver exits 1 at the end when any step failed or was not run.
``--smoke`` passes small sizes and few repeats to every step (a check of the driver in minutes, with
``--scale small``); it refuses to write the repository's BENCHMARKS.md. ``--deadline`` (UTC) skips a step whose
estimate would end after it. Estimates come from the timings the previous report at ``--out`` recorded (a
comment at its end), else from the figures below. The driver itself stays small (standard library only):
Linux counts a child's peak memory from its parent's size at the fork.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
BENCH = ROOT / "benchmarks"
TARGET_SECONDS, TARGET_GB = 300, 8
TIMINGS = re.compile(r"<!-- bench-timings: (\{.*?\}) -->")
PUBLISHED_2020 = {"onvoldoende_or_lower": 0.04, "goed_or_better": 0.30}
PUBLISHED_2014 = {"onvoldoende_or_lower": 0.06, "goed_or_better": 0.22}
PUBLISHED_GROUPS_2020 = {"G4": {"onvoldoende_or_lower": 0.11, "zwak_or_lower": 0.24, "zeer_goed_or_better": 0.37},
                         "G40": {"onvoldoende_or_lower": 0.04, "zwak_or_lower": 0.16, "zeer_goed_or_better": 0.25}}
# seconds per run on an idle 2-core machine, used when no earlier report recorded its timings. nl: the pipeline from
# the nl runs of 2026-11-23 (world, score) and the kernels/scaling sections of 2026-11-30 (the Newton ordinal fit,
# the compiled Moran kernel, the fixed-Hessian bootstrap; the full-check run after main's 29af81a: about 125 s
# of fit and checks), the peers from their sections' figures (measured under
# load, so these are upper bounds), the multilevel family at 30,000 respondents guessed at 250 s, bayes measured
# at make bench's settings on 2026-11-30 (load 2-4: 177 s samplers + 239 s curve); smoke: the
# --smoke run on the small world.
ESTIMATES = {
    "nl": {"world": 85, "fit_nochecks": 50, "fit_ols": 40, "score": 20, "verify": 2, "fit_checks": 180,
           "check_table": 10, "onnx": 60, "shares": 30, "kernels": 400, "scaling": 650, "sweep": 120, "hedonic": 220,
           "families": 1100, "bayes": 420},
    "smoke": {"world": 6, "fit_nochecks": 12, "fit_ols": 9, "score": 3, "verify": 1, "fit_checks": 23,
              "check_table": 3, "onnx": 2, "shares": 1, "kernels": 16, "scaling": 28, "sweep": 140, "hedonic": 12,
              "families": 75, "bayes": 100},
}
PIPELINE_TITLES = {
    "world": "world generation",
    "fit_nochecks": "fit + freeze (ordinal logit), no checks",
    "fit_checks": "fit + all default checks + freeze (ordinal logit)",
    "fit_ols": "fit + freeze (least squares), no checks",
    "score": "score all years + aggregates",
    "verify": "verify frozen model",
}
PIPELINE_ORDER = ("world", "fit_nochecks", "fit_checks", "fit_ols", "score", "verify")   # rows of the top table


@dataclass
class Step:
    """One benchmark step: a command run ``repeats`` times (each in its own process)."""

    key: str
    title: str
    command: list[str]
    repeats: int = 1
    needs: tuple[str, ...] = ()
    section: Path | None = None     # Markdown the step writes (a peer benchmark's section)
    result: Path | None = None      # JSON the step writes (a child of this script)


@dataclass
class Run:
    """One process of a step."""

    started: str
    seconds: float
    peak_mb: float
    load_before: float
    load_after: float
    exit_code: int


@dataclass
class Outcome:
    status: str = "to come"         # to come | running | done | failed | skipped | interrupted
    note: str = ""
    runs: list[Run] = field(default_factory=list)


class Interrupted(Exception):
    """SIGTERM or SIGINT during the run."""


# --- the plan ---------------------------------------------------------------------------------------------------
def plan(args, work: Path) -> list[Step]:
    """Every step with its command; ``--smoke`` shrinks each one's sizes and repeats."""
    py, world = sys.executable, work / f"world-{args.scale}"
    data = [f"tracking.uri=sqlite:///{work}/mlruns.db", f"tracking.artifact_dir={work}/mlartifacts",
            f"hydra.run.dir={work}/runs/${{now:%H-%M-%S}}", "data=files", f"data.cells={world}/cells.parquet",
            f"data.survey={world}/survey.parquet", f"data.catalog={world}/catalog.yaml"]
    quick_checks = (["checks.spatial.permutations=99", "checks.spatial.lisa_permutations=99",
                     "checks.spatial.score_permutations=99", "checks.cluster_bootstrap.replicates=9"]
                    if args.smoke else [])
    model = work / "export-ordinal-nochecks"
    smoke = args.smoke
    peers = {
        "kernels": (["--cells", "10000,20000", "--score-cells", "20000", "--respondents", "2000,4000",
                     "--bootstrap-respondents", "2000", "--replicates", "2", "--repeats", "1"] if smoke else []),
        "scaling": (["--cells", "10000,20000", "--respondents", "2000,4000", "--check-cells", "2000,4000",
                     "--lisa-areas", "1000", "--repeats", "1", "--plot", str(work / "scaling.png")] if smoke else []),
        "sweep": ["--repeats", "1"],
        "hedonic": ["--world", str(world)],
        "families": ["--world", str(world), *(["--bayes-respondents", "600", "--bayes-draws", "30",
                                               "--multilevel-respondents", "2000"] if smoke else
                                              ["--bayes-respondents", "5000", "--bayes-draws", "300",
                                               "--multilevel-respondents", "30000"])],
        # the fits refuse fewer than 5 respondents per coefficient (555 on the small world): no curve point at 500
        "bayes": (["--n", "600", "--draws", "30", "--sizes", "600"] if smoke else
                  ["--n", "1500", "--draws", "200", "--sizes", "1000,2000,4000"]),
    }
    peer_titles = {"kernels": "kernels against their peers (bench_kernels.py)",
                   "scaling": "scaling curves (bench_scaling.py)",
                   "sweep": "a four-job sweep, serial and parallel (bench_sweep.py)",
                   "hedonic": "the behaviour model's hedonic fit (bench_hedonic.py)",
                   "families": "estimator families' fit times (bench_families.py)",
                   "bayes": "Bayesian samplers and prior curve on the small world (bench_bayes.py)"}
    r = args.repeats
    steps = [
        Step("world", PIPELINE_TITLES["world"], [str(BIN / "lbm"), "world", "--scale", args.scale, "--seed",
                                                 str(args.seed), "--out", str(world)], r),
        Step("fit_nochecks", PIPELINE_TITLES["fit_nochecks"],
             [str(BIN / "lbm-experiment"), *data, "model=ordinal_logit", "checks.run=[]", f"export.dir={model}"], r,
             ("world",)),
        Step("fit_ols", PIPELINE_TITLES["fit_ols"],
             [str(BIN / "lbm-experiment"), *data, "model=ols", "checks.run=[]", f"export.dir={work}/export-ols"], r,
             ("world",)),
        Step("score", PIPELINE_TITLES["score"],
             [str(BIN / "lbm"), "score", "--model", str(model), "--cells", str(world / "cells.parquet"), "--out",
              str(work / "scores.parquet"), "--aggregate", "buurt,wijk,gemeente"], r, ("fit_nochecks",)),
        Step("verify", PIPELINE_TITLES["verify"], [str(BIN / "lbm"), "verify", str(model)], r, ("fit_nochecks",)),
        Step("fit_checks", PIPELINE_TITLES["fit_checks"],
             [str(BIN / "lbm-experiment"), *data, "model=ordinal_logit", *quick_checks,
              f"export.dir={work}/export-ordinal"], r, ("world",)),
        Step("check_table", "per-check seconds of the full-check runs (MLflow) and their verdicts (audit.json)",
             [py, __file__, "--child", "checks", str(work / "check_table.json"), f"sqlite:///{work}/mlruns.db",
              str(work / "export-ordinal" / "audit.json"), str(work / "check_runs.json")], 1, ("fit_checks",),
             result=work / "check_table.json"),
        Step("onnx", "ONNX export against the Python scorer on the whole world",
             [py, __file__, "--child", "onnx", str(work / "onnx.json"), str(model), str(world / "cells.parquet")], 1,
             ("fit_nochecks",), result=work / "onnx.json"),
        Step("shares", "class shares of households beside the published figures",
             [py, __file__, "--child", "shares", str(work / "shares.json"), str(world), str(work / "scores.parquet")],
             1, ("score",), result=work / "shares.json"),
    ]
    for key, extra in peers.items():
        steps.append(Step(key, peer_titles[key], [py, str(BENCH / f"bench_{key}.py"), *extra, "--out",
                                                  str(work / f"{key}.md")], 1,
                          ("world",) if key in ("hedonic", "families") else (), section=work / f"{key}.md"))
    return steps


# --- running ----------------------------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def run_once(command: list[str], log: Path) -> Run:
    """Run ``command`` in its own session (so an interrupt stops all its processes), output to ``log``."""
    load_before, started = os.getloadavg()[0], utc_now()
    clock = time.perf_counter()
    with open(log, "w") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
    return Run(started.strftime("%H:%M:%S"), time.perf_counter() - clock, usage.ru_maxrss / 1024, load_before,
               os.getloadavg()[0], os.waitstatus_to_exitcode(status))


def log_tail(log: Path, lines: int = 25) -> str:
    text = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return "\n".join(line[-300:] for line in text[-lines:])


class Bench:
    """The run's state; ``write`` renders the report from whatever has finished."""

    def __init__(self, args, work: Path, out: Path, steps: list[Step], argv: list[str] | None = None) -> None:
        self.args, self.work, self.out, self.steps = args, work, out, steps
        self.argv = argv or []
        self.outcomes = {s.key: Outcome("skipped", "--skip") if s.key in args.skip else Outcome() for s in steps}
        self.started = utc_now()
        self.estimates, self.estimate_source = estimates(out, args, steps)
        self.check_runs: list[str] = []

    def estimate(self, step: Step) -> float:
        return self.estimates.get(step.key, 60.0) * step.repeats

    def remaining(self, after: int) -> float:
        return sum(self.estimate(s) for s in self.steps[after:] if self.outcomes[s.key].status == "to come")

    def say(self, text: str) -> None:
        elapsed = utc_now() - self.started
        print(f"[bench {str(elapsed).split('.')[0]} elapsed] {text}", flush=True)

    def run(self) -> int:
        """Every step in order; 0 when all finished (but those of --skip), 1 when one failed or was not run for
        another reason (a step it needs failed, the deadline), 130 when interrupted."""
        self.announce()
        self.write()
        try:
            for index, step in enumerate(self.steps):
                self.run_or_skip(step)
                end = utc_now() + timedelta(seconds=self.remaining(index + 1))
                self.say(f"{step.key}: {self.outcomes[step.key].status}; about {self.remaining(index + 1) / 60:.0f} "
                         f"min of steps to come (ends about {end:%H:%M} UTC)")
                self.write()
        except Interrupted:
            for outcome in self.outcomes.values():
                if outcome.status == "running":
                    outcome.status, outcome.note = "interrupted", "the run was interrupted during this step"
            self.write()
            self.say(f"interrupted; the report so far is in {self.out}")
            return 130
        failed = [k for k, o in self.outcomes.items() if o.status != "done" and o.note != "--skip"]
        self.say(f"report written to {self.out}" + (f"; not done: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0

    def run_or_skip(self, step: Step) -> None:
        outcome = self.outcomes[step.key]
        if reason := self.reason_to_skip(step):
            outcome.status, outcome.note = "skipped", reason
        else:
            outcome.status = "running"
            self.write()
            self.run_step(step, outcome)

    def reason_to_skip(self, step: Step) -> str:
        if step.key in self.args.skip:
            return "--skip"
        missing = [n for n in step.needs if self.outcomes[n].status != "done"]
        if missing:
            return f"needs {', '.join(missing)}, which did not finish"
        if self.args.deadline and utc_now() + timedelta(seconds=self.estimate(step)) > self.args.deadline:
            return (f"its estimate ({self.estimate(step) / 60:.0f} min) would end after the deadline "
                    f"{self.args.deadline:%H:%M} UTC")
        return ""

    def run_step(self, step: Step, outcome: Outcome) -> None:
        if step.section and step.section.exists():
            step.section.unlink()            # a section from an earlier run must not pass for this one's
        if step.result and step.result.exists():
            step.result.unlink()
        for i in range(step.repeats):
            log = self.work / "logs" / f"{step.key}-{i + 1}.log"
            self.say(f"{step.key} run {i + 1}/{step.repeats} (estimate {self.estimates.get(step.key, 60):.0f} s; "
                     f"log {log})")
            run = run_once(step.command, log)
            outcome.runs.append(run)
            self.say(f"{step.key} run {i + 1}/{step.repeats}: {run.seconds:.1f} s, peak {run.peak_mb:,.0f} MB, "
                     f"load {run.load_before:.1f} -> {run.load_after:.1f}, exit {run.exit_code}")
            if run.exit_code != 0:
                outcome.status = "failed"
                outcome.note = f"run {i + 1} exited with code {run.exit_code}; last lines of {log}:\n{log_tail(log)}"
                return
            if step.key == "fit_checks":
                self.record_check_run()
            self.write()
        outcome.status = "done"
        if step.result and not step.result.is_file():
            outcome.status, outcome.note = "failed", f"exited 0 but wrote no {step.result}"

    def record_check_run(self) -> None:
        """The MLflow run id of the full-check run that just finished (from its model's provenance); a run without
        one is missing from check_runs.json, and the check_table step then says so."""
        model = read_json(self.work / "export-ordinal" / "model.json") or {}
        run_id = (model.get("provenance") or {}).get("mlflow_run_id")
        if run_id:
            self.check_runs.append(run_id)
        (self.work / "check_runs.json").write_text(json.dumps(self.check_runs))

    def done(self, key: str) -> bool:
        outcome = self.outcomes.get(key)
        return bool(outcome and outcome.status == "done")

    def announce(self) -> None:
        lines = [f"{s.key:<13} {self.estimate(s) / 60:6.1f} min  {s.title}" + (f" x{s.repeats}" if s.repeats > 1 else "")
                 for s in self.steps if s.key not in self.args.skip]
        total = sum(self.estimate(s) for s in self.steps if s.key not in self.args.skip)
        self.say(f"{len(lines)} steps, estimates from {self.estimate_source}; total about {total / 60:.0f} min "
                 f"(ends about {utc_now() + timedelta(seconds=total):%H:%M} UTC); logs in {self.work / 'logs'}\n  "
                 + "\n  ".join(lines))

    def write(self) -> None:
        text = render(self)
        partial = self.out.with_name(self.out.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.out)


def estimates(out: Path, args, steps: list[Step]) -> tuple[dict[str, float], str]:
    """Seconds per run of each step: the previous report's recorded timings (same scale and mode), else ESTIMATES."""
    kind = "smoke" if args.smoke else "nl"
    base = dict(ESTIMATES[kind])
    if out.is_file():
        found = TIMINGS.search(out.read_text(errors="replace"))
        if found:
            recorded = json.loads(found.group(1))
            if recorded.get("scale") == args.scale and recorded.get("smoke") == args.smoke:
                base.update(recorded.get("seconds_per_run", {}))
                return base, f"the previous run recorded in {out}"
    return base, f"built-in figures ({kind})"


# --- the report -------------------------------------------------------------------------------------------------
def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown CPU") \
        if Path("/proc/cpuinfo").is_file() else platform.processor()
    memory = next((int(line.split()[1]) / 1024**2 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), float("nan")) if Path("/proc/meminfo").is_file() else float("nan")
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GB memory, {platform.system()} {platform.release()}, "
            f"{platform.machine()}, Python {platform.python_version()}")


def seconds_text(values: list[float]) -> tuple[str, str, str]:
    return (f"{statistics.median(values):.1f}", f"{min(values):.1f}", f"{max(values):.1f}")


def median_of(bench: Bench, key: str) -> float | None:
    return statistics.median(r.seconds for r in bench.outcomes[key].runs) if bench.done(key) else None


def read_json(path: Path | None) -> dict | None:
    return json.loads(path.read_text()) if path and path.is_file() else None


def render(bench: Bench) -> str:
    args = bench.args
    steps = {s.key: s for s in bench.steps}
    truth = read_json(bench.work / f"world-{args.scale}" / "truth.json") if bench.done("world") else None
    lines = ["# Benchmarks", "",
             f"Regenerate with `make bench` on a fresh clone (`benchmarks/run_benchmarks.py --scale nl --repeats 3 --out "
             f"BENCHMARKS.md`; it generates the nl world itself). This file came from `run_benchmarks.py "
             f"{' '.join(bench.argv)}`. Machine: {machine()}. Started "
             f"{bench.started:%Y-%m-%d %H:%M} UTC. Every figure of the pipeline table is the median of "
             f"{args.repeats} runs of the real command, each in its own process; peak memory is the largest maximum "
             "resident set size of those runs. The one-minute load average before and after every process is in the "
             "log at the end (the machine may be shared with other work: a load above 2 on these 2 cores means "
             "the times are upper bounds).", "", status_line(bench), ""]
    if args.smoke:
        lines += ["**Smoke run** (`--smoke`): small sizes and few repeats everywhere; these figures check the "
                  "benchmark driver, not the code's speed.", ""]
    if truth:
        lines += [f"World: scale `{args.scale}`, seed {args.seed}: {truth['counts']}.", ""]
    lines += pipeline_table(bench, truth)
    lines += check_table(bench)
    onnx = read_json(steps["onnx"].result) if bench.done("onnx") else None
    if onnx:
        lines += [f"ONNX export (`lbm export-onnx`, {onnx['input_type']} input, the cells' own type) on all "
                  f"{onnx['rows']:,} cell-years against the Python scorer: largest score difference "
                  f"{onnx['max_score_difference']:.1e}, largest dimension difference "
                  f"{onnx['max_dimension_difference']:.1e} (target 1e-6), {onnx['other_class']} cell-years in another "
                  f"class; onnxruntime {onnx['onnx_seconds']:.1f} s, the fused kernel {onnx['python_seconds']:.1f} s "
                  "(scoring core only, no reading; one run).", ""]
    shares = read_json(steps["shares"].result) if bench.done("shares") else None
    if truth and shares:
        lines += calibration_table(truth, {int(k): v for k, v in shares.items()}) + [""]
    for step in bench.steps:
        if step.section and step.section.is_file() and bench.outcomes[step.key].status in ("done", "failed"):
            lines += [step.section.read_text(encoding="utf-8").rstrip("\n"), ""]
    lines += failures(bench) + process_log(bench)
    record = {"scale": args.scale, "smoke": args.smoke,
              "seconds_per_run": {k: round(statistics.median(r.seconds for r in o.runs), 1)
                                  for k, o in bench.outcomes.items() if o.status == "done" and o.runs}}
    lines += ["", f"<!-- bench-timings: {json.dumps(record, sort_keys=True)} -->"]
    return "\n".join(lines) + "\n"


def status_line(bench: Bench) -> str:
    by = {}
    for step in bench.steps:
        by.setdefault(bench.outcomes[step.key].status, []).append(step.key)
    elapsed = f"{(utc_now() - bench.started).total_seconds() / 60:.0f} min"
    if set(by) == {"done"}:
        return f"Status: complete, all {len(bench.steps)} steps finished in {elapsed} (at {utc_now():%H:%M} UTC)."
    parts = [f"{label}: {', '.join(by[status])}" for status, label in
             (("done", "finished"), ("running", "running"), ("to come", "still to come"), ("failed", "FAILED"),
              ("skipped", "not run"), ("interrupted", "INTERRUPTED")) if status in by]
    return (f"Status at {utc_now():%H:%M} UTC, {elapsed} after the start: " + "; ".join(parts) +
            ". (This file is rewritten after every step; failures and skipped steps are explained at the end.)")


def pipeline_table(bench: Bench, truth: dict | None) -> list[str]:
    rows = []
    for key in (k for k in PIPELINE_ORDER if k in bench.outcomes):
        outcome = bench.outcomes[key]
        runs = [r for r in outcome.runs if r.exit_code == 0]
        if outcome.status == "done":
            median, low, high = seconds_text([r.seconds for r in runs])
            loads = [v for r in runs for v in (r.load_before, r.load_after)]
            rows.append(f"| {PIPELINE_TITLES[key]} | {median} | {low} | {high} | {max(r.peak_mb for r in runs):,.0f} | "
                        f"{len(runs)} | {min(loads):.1f}-{max(loads):.1f} |")
        else:
            rows.append(f"| {PIPELINE_TITLES[key]} | {outcome.status} | | | | {len(runs)} | |")
    lines = ["## The pipeline's commands", "",
             "| step | median s | min s | max s | peak memory (MB) | runs | load average during |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |", *rows, ""]
    medians = {key: median_of(bench, key) for key in PIPELINE_ORDER if key in bench.outcomes}
    derived = []
    if medians.get("score") and truth:
        n_rows = sum(truth["counts"]["cells_per_year"].values())
        derived.append(f"Scoring throughput: {n_rows / medians['score']:,.0f} cell-years per second ({n_rows:,} "
                       "cell-years, including reading, validation, aggregates and writing; median run).")
    if medians.get("fit_nochecks") and medians.get("fit_ols"):
        derived.append(f"Ordinal / least-squares command time (medians, same run, both including reading the inputs "
                       f"and freezing): {medians['fit_nochecks'] / medians['fit_ols']:.2f}.")
    if derived:
        lines += [" ".join(derived), ""]
    whole = ("world", "fit_checks", "score")
    if all(medians.get(k) for k in whole):
        total = sum(medians[k] for k in whole)
        peak = max(r.peak_mb for k in whole for r in bench.outcomes[k].runs) / 1024
        if bench.args.scale == "nl":
            verdict = "met" if total <= TARGET_SECONDS and peak <= TARGET_GB else "missed"
            target = f"target: {TARGET_SECONDS} s and {TARGET_GB} GB: {verdict}"
        else:
            target = f"the targets, {TARGET_SECONDS} s and {TARGET_GB} GB, are for the nl world"
        lines += [f"Whole {bench.args.scale} run (world, fit with all default checks and freeze, score all years; sum "
                  f"of the medians): **{total:.0f} s**, largest peak **{peak:.1f} GB** over their runs ({target}).", ""]
    return lines


def check_table(bench: Bench) -> list[str]:
    table = read_json(bench.work / "check_table.json") if bench.done("check_table") else None
    if not table:
        return []
    lines = ["## The checks in the full-check runs", "",
             f"Seconds of each check as `lbm-experiment` logged them to MLflow (`check.<name>.seconds`) in the "
             f"{table['runs']} full-check run(s) above: median, min and max; verdict and summary from the last run's "
             "audit.json (the stigmatisation gate runs before the fit and is not timed).", "",
             "| check | median s | min s | max s | verdict | summary |", "| --- | ---: | ---: | ---: | --- | --- |"]
    total = 0.0
    for check in table["checks"]:
        seconds = table["seconds"].get(check["name"])
        if seconds:
            median, low, high = seconds_text(seconds)
            total += statistics.median(seconds)
        else:
            median = low = high = ""
        summary = " ".join(check["summary"].split()).replace("|", "/")
        lines.append(f"| {check['name']} | {median} | {low} | {high} | {check['verdict']} | {summary} |")
    full = median_of(bench, "fit_checks")
    lines += ["", f"Sum of the checks' medians: {total:.1f} s"
              + (f" of the full-check command's median {full:.1f} s (the rest: starting, reading and validating, "
                 "fitting, freezing, logging to MLflow)." if full else "."), ""]
    return lines


def calibration_table(truth: dict, fitted: dict) -> list[str]:
    """True-weight and fitted-model household shares beside the published figures."""
    cal = truth["calibration"]["years"]
    rows = ["## Class shares of households beside the published figures", "",
            "True weights: the world's generating weights, classes fixed on 2020 by the default rule. "
            "Fitted: the frozen ordinal model estimated from the world's survey, its own 2020 thresholds.", "",
            "| year | area | measure | published | true weights | fitted model |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for year, published in ((2014, PUBLISHED_2014), (2020, PUBLISHED_2020)):
        if str(year) not in cal or year not in fitted:
            continue
        for measure, value in published.items():
            rows.append(f"| {year} | national | {measure} | {value:.0%} | {cal[str(year)]['national'][measure]:.1%} "
                        f"| {fitted[year]['national'][measure]:.1%} |")
    for group, published in PUBLISHED_GROUPS_2020.items():
        if "2020" not in cal or 2020 not in fitted or group not in fitted[2020]:
            continue
        for measure, value in published.items():
            true_value = cal["2020"].get(group, {}).get(measure)
            true_text = f"{true_value:.1%}" if true_value is not None else "n/a"
            rows.append(f"| 2020 | {group} | {measure} | {value:.0%} | {true_text} | {fitted[2020][group][measure]:.1%} |")
    return rows


def failures(bench: Bench) -> list[str]:
    lines = []
    for step in bench.steps:
        outcome = bench.outcomes[step.key]
        if outcome.status in ("failed", "interrupted"):
            head, _, tail = outcome.note.partition("\n")
            lines += [f"### {outcome.status.upper()}: {step.key} ({step.title})", "", head + ".", ""]
            if tail:
                lines += ["```", tail, "```", ""]
        elif outcome.status == "skipped":
            lines += [f"Not run: {step.key} ({step.title}): {outcome.note}.", ""]
    return (["## Failed and skipped steps", "", *lines] if lines else [])


def process_log(bench: Bench) -> list[str]:
    lines = ["## Every process of this run", "",
             "| step | run | started (UTC) | wall s | peak MB | load before | load after | exit |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for step in bench.steps:
        for i, run in enumerate(bench.outcomes[step.key].runs, 1):
            lines.append(f"| {step.key} | {i} | {run.started} | {run.seconds:.1f} | {run.peak_mb:,.0f} | "
                         f"{run.load_before:.1f} | {run.load_after:.1f} | {run.exit_code} |")
    return lines


# --- children: the measurements that need pandas, MLflow or onnxruntime (kept out of the driver) -----------------
def child_checks(tracking_uri: str, audit_path: str, runs_path: str) -> dict:
    """``check.<name>.seconds`` of each full-check MLflow run; each check's verdict and summary from audit.json."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    seconds: dict[str, list[float]] = {}
    run_ids = json.loads(Path(runs_path).read_text())
    for run_id in run_ids:
        for key, value in client.get_run(run_id).data.metrics.items():
            if key.startswith("check.") and key.endswith(".seconds"):
                seconds.setdefault(key[len("check."):-len(".seconds")], []).append(value)
    audit = json.loads(Path(audit_path).read_text())
    checks = [{"name": c["name"], "verdict": c["verdict"], "summary": c["summary"]} for c in audit["checks"]]
    missing = [c["name"] for c in checks if c["name"] != "stigma_gate" and len(seconds.get(c["name"], [])) != len(run_ids)]
    if not run_ids or missing:
        raise SystemExit(f"no check.<name>.seconds in {len(run_ids)} MLflow run(s) for: {', '.join(missing) or 'any'}")
    return {"runs": len(run_ids), "seconds": seconds, "checks": checks}


def child_onnx(model_dir: str, cells_path: str, rows: int = 131_072) -> dict:
    """``lbm export-onnx`` of the model scored with onnxruntime on every cell-year (in batches), against the Python
    scorer: largest absolute differences, cells with another class, throughput of each."""
    import numpy as np
    import onnxruntime as ort

    from lbm_model.contract import read_table
    from lbm_model.onnx_export import export_onnx, indicator_matrix
    from lbm_model.scoring import CompiledScorer

    model_dir = Path(model_dir)
    scorer = CompiledScorer.load(model_dir)
    cells = read_table(cells_path)
    started = time.perf_counter()
    reference = scorer.run(cells)
    python_seconds = time.perf_counter() - started
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    dtype = np.float32 if all(cells[name].dtype == np.float32 for name in scorer.names) else np.float64
    session = ort.InferenceSession(str(export_onnx(model_dir, model_dir / "model.onnx", np.dtype(dtype).name)), options,
                                   providers=["CPUExecutionProvider"])
    matrix = indicator_matrix(scorer, cells, dtype)
    started = time.perf_counter()
    parts = [session.run(["dimensions", "score", "class"], {"indicators": matrix[s:s + rows]})
             for s in range(0, len(matrix), rows)]
    onnx_seconds = time.perf_counter() - started
    dimensions, score, classes = (np.concatenate([p[i] for p in parts]) for i in range(3))
    return {"rows": len(cells), "input_type": np.dtype(dtype).name,
            "max_score_difference": float(np.max(np.abs(score - reference.score))),
            "max_dimension_difference": float(np.max(np.abs(dimensions - reference.dimensions))),
            "other_class": int((classes != reference.classes).sum()), "python_seconds": python_seconds,
            "onnx_seconds": onnx_seconds}


def child_shares(world: str, scores_path: str) -> dict:
    """Household shares per class of the fitted model's scores, nationally and per municipality group, per year."""
    import numpy as np
    import pandas as pd

    from lbm_model.classes import N_CLASSES

    def shares(classes, households) -> dict[str, float]:
        per = np.bincount(classes - 1, weights=households, minlength=N_CLASSES) / households.sum()
        return {"onvoldoende_or_lower": per[:3].sum(), "zwak_or_lower": per[:4].sum(),
                "goed_or_better": per[6:].sum(), "zeer_goed_or_better": per[7:].sum()}

    world = Path(world)
    cells = pd.read_parquet(world / "cells.parquet", columns=["cell_id", "year", "gemeente_code", "households"])
    scores = pd.read_parquet(scores_path, columns=["cell_id", "year", "class"])
    merged = cells.merge(scores, on=["cell_id", "year"], validate="one_to_one")
    groups = pd.read_csv(world / "municipality_groups.csv", dtype=str).set_index("gemeente_code")["group"]
    merged["group"] = merged["gemeente_code"].map(groups)
    out = {}
    for year, frame in merged.groupby("year"):
        out[int(year)] = {"national": shares(frame["class"].to_numpy(), frame["households"].to_numpy(float))}
        for group, part in frame.groupby("group"):
            out[int(year)][group] = shares(part["class"].to_numpy(), part["households"].to_numpy(float))
    return out


CHILDREN = {"checks": child_checks, "onnx": child_onnx, "shares": child_shares}


def child(argv: list[str]) -> None:
    """``--child KIND OUT ARGS...``: run one measurement and write its JSON to OUT."""
    sys.path.insert(0, str(ROOT / "src"))
    kind, out, *rest = argv
    result = CHILDREN[kind](*rest)
    Path(out).write_text(json.dumps(result, default=float))


# --- command line -----------------------------------------------------------------------------------------------
def deadline(text: str) -> datetime:
    """``HH:MM`` today (UTC), or an ISO date and time."""
    if re.fullmatch(r"\d{1,2}:\d{2}", text):
        hours, minutes = map(int, text.split(":"))
        return utc_now().replace(hour=hours, minute=minutes, second=0, microsecond=0)
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="step keys: world, fit_nochecks, fit_ols, score, verify, fit_checks, "
                                            "check_table, onnx, shares, kernels, scaling, sweep, hedonic, families, bayes")
    parser.add_argument("--scale", default="nl", choices=("small", "nl"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None, help="runs of each pipeline command (default 3; 2 with --smoke)")
    parser.add_argument("--work", default="bench-work", help="working directory (relative to the repository)")
    parser.add_argument("--out", default="BENCHMARKS.md", help="the report (relative to the repository)")
    parser.add_argument("--skip", default="", help="comma-separated step keys not to run")
    parser.add_argument("--deadline", type=deadline, default=None,
                        help="UTC time (HH:MM today, or ISO): skip a step whose estimate would end after it")
    parser.add_argument("--smoke", action="store_true", help="small sizes and few repeats in every step")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (2 if args.smoke else 3)
    args.skip = {k.strip() for k in args.skip.split(",") if k.strip()}
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child(argv[1:])
        return 0
    args = parse_args(argv)
    work, out = (ROOT / args.work).resolve(), (ROOT / args.out).resolve()
    if args.smoke and out == (ROOT / "BENCHMARKS.md").resolve():
        print("run_benchmarks: a --smoke run does not overwrite the repository's BENCHMARKS.md; give --out "
              "another path (e.g. /tmp/bench-smoke.md).", file=sys.stderr)
        return 2
    steps = plan(args, work)
    unknown = args.skip - {s.key for s in steps}
    if unknown:
        print(f"run_benchmarks: --skip {', '.join(sorted(unknown))}: no such step; the keys are "
              f"{', '.join(s.key for s in steps)}.", file=sys.stderr)
        return 2
    (work / "logs").mkdir(parents=True, exist_ok=True)

    def interrupted(signum, frame):
        raise Interrupted

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    return Bench(args, work, out, steps, argv).run()


if __name__ == "__main__":
    sys.exit(main())
