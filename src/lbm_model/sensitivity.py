"""Global uncertainty and sensitivity analysis of ranks and classes over modelling choices (SALib).

In the manner of the JRC/OECD composite-indicator handbook (Saisana, Saltelli and Tarantola
2005): every modelling choice is a Hydra override with its alternatives (estimator family,
indicator set, class-threshold rule, ...). SALib's Sobol' (Saltelli) design samples the choices
(a discrete choice with k alternatives is a uniform factor on [0, k), its integer part the
alternative), every distinct configuration is fitted and scored once, and SALib computes
first-order and total Sobol' indices of each output. No estimator is hand-written here.

Outputs per configuration, against the reference configuration (every choice's first alternative):
- ``buurt_mean_abs_rank_shift`` and ``gemeente_mean_abs_rank_shift``: mean absolute change of the
  household-weighted base-year rank;
- ``households_changing_class_share``: share of base-year households whose class differs.
Per buurt and gemeente: median rank and 90 % rank interval over the samples.

The same code path (:func:`sobol_analysis`) runs any model function; tests run SALib's Ishigami
function through it and compare with the published analytical indices.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from lbm_model.atomic import write_bytes_atomic
from lbm_model.errors import ConfigError

OUTPUTS = ("buurt_mean_abs_rank_shift", "gemeente_mean_abs_rank_shift", "households_changing_class_share")


@dataclass(frozen=True)
class Factor:
    """One uncertain input: discrete alternatives (Hydra override values) or continuous bounds."""

    name: str
    alternatives: tuple | None = None
    bounds: tuple[float, float] | None = None

    def value(self, x: float):
        """The factor's value for a sample coordinate."""
        if self.alternatives is None:
            return float(x)
        return self.alternatives[min(int(np.floor(x)), len(self.alternatives) - 1)]

    @property
    def range(self) -> list[float]:
        return [0.0, float(len(self.alternatives))] if self.alternatives is not None else list(self.bounds)


def sobol_analysis(factors: list[Factor], model: Callable[[dict], Mapping[str, float]], n_base: int, seed: int = 0
                   ) -> tuple[dict, list[dict], list[dict]]:
    """Saltelli sample, evaluate ``model`` on each sample's factor values, SALib Sobol' indices per output.

    Returns (indices by output and factor, the sampled factor values, the model outputs per sample).
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    problem = {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [f.range for f in factors]}
    design = sobol_sample.sample(problem, n_base, calc_second_order=False, seed=seed)
    samples = [{f.name: f.value(x) for f, x in zip(factors, row)} for row in design]
    outputs = [dict(model(sample)) for sample in samples]
    indices = {}
    for name in outputs[0]:
        y = np.array([o[name] for o in outputs], float)
        if np.var(y) == 0:     # an output no choice moves: every index is 0 (SALib would divide by zero)
            indices[name] = {f.name: {"S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0} for f in factors}
            continue
        found = sobol_analyze.analyze(problem, y, calc_second_order=False, seed=seed)
        indices[name] = {f.name: {k: float(found[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf")}
                         for i, f in enumerate(factors)}
    return indices, samples, outputs


def load_choices(path: str | Path) -> tuple[list[str], list[Factor]]:
    """The choices file: ``base`` (overrides for every run) and ``choices`` ({override key: [alternatives]})."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: choices file not found.")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    choices = raw.get("choices")
    if not isinstance(choices, dict) or not choices:
        raise ConfigError(f"{path}: expected a mapping 'choices' of Hydra override keys to lists of alternatives.")
    bad = [k for k, v in choices.items() if not isinstance(v, list) or len(v) < 2]
    if bad:
        raise ConfigError(f"{path}: choice(s) {', '.join(map(str, bad))} need a list of at least two alternatives.")
    base = raw.get("base") or []
    if not isinstance(base, list) or not all(isinstance(b, str) for b in base):
        raise ConfigError(f"{path}: 'base' must be a list of Hydra overrides such as data=files.")
    return base, [Factor(str(k), tuple(v)) for k, v in choices.items()]


@dataclass
class RunOutcome:
    """What one configuration produced: base-year buurt and gemeente scores, cell classes and households."""

    buurt: pd.Series
    gemeente: pd.Series
    classes: np.ndarray
    households: np.ndarray


def run_configuration(overrides: list[str], inputs_cache: dict) -> RunOutcome:
    """Compose, fit and score one configuration (no checks, no freeze, no tracking)."""
    from lbm_model.config import compose_config, typed_config
    from lbm_model.experiment import build_estimator, ensure_synthetic_world
    from lbm_model.inputs import load_inputs
    from lbm_model.recalibrate import class_thresholds, fit_model, select_indicators
    from lbm_model.classes import assign_classes

    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = typed_config(compose_config(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"sensitivity: the configuration {' '.join(overrides)} cannot be composed: "
                          f"{' '.join(str(exc).split())}") from None
    key = (cfg.data.cells, cfg.data.survey, cfg.data.catalog)
    if key not in inputs_cache:
        if cfg.data.kind == "synthetic":
            ensure_synthetic_world(cfg.data)
        inputs_cache[key] = load_inputs(*key)
    inputs = inputs_cache[key]
    fitted = fit_model(inputs, build_estimator(cfg.model),
                       select_indicators(inputs, list(cfg.indicators.exclude), cfg.indicators.candidates))
    thresholds = class_thresholds(fitted, inputs.cells, cfg.classes)
    base = (inputs.cells["year"] == cfg.classes.base_year).to_numpy()
    cells = inputs.cells[base]
    score = fitted.cell_scores()[base]
    households = cells["households"].to_numpy(float)

    def area_means(level: str) -> pd.Series:
        frame = pd.DataFrame({"code": cells[f"{level}_code"].to_numpy(), "h": households, "hs": households * score})
        sums = frame.groupby("code")[["h", "hs"]].sum()
        return (sums["hs"] / sums["h"])[sums["h"] > 0]

    return RunOutcome(area_means("buurt"), area_means("gemeente"), assign_classes(score, thresholds), households)


def ranks(scores: pd.Series) -> pd.Series:
    """Rank 1 = highest score."""
    return scores.rank(ascending=False, method="average")


def sensitivity(choices_path: str | Path, out: str | Path, n_base: int = 8, seed: int = 0,
                runner: Callable[[list[str], dict], RunOutcome] = run_configuration) -> dict:
    """Run the analysis of the choices file and write ``out/sensitivity.json`` and ``out/rank_intervals.png``."""
    base, factors = load_choices(choices_path)
    cache: dict[tuple, RunOutcome] = {}
    inputs_cache: dict = {}

    def outcome(sample: dict) -> RunOutcome:
        overrides = tuple([*base, *(f"{k}={v}" for k, v in sample.items())])
        if overrides not in cache:
            cache[overrides] = runner(list(overrides), inputs_cache)
        return cache[overrides]

    reference = outcome({f.name: f.alternatives[0] for f in factors})
    ref_buurt, ref_gemeente = ranks(reference.buurt), ranks(reference.gemeente)
    buurt_ranks, gemeente_ranks = [], []

    def model(sample: dict) -> dict[str, float]:
        run = outcome(sample)
        b, g = ranks(run.buurt), ranks(run.gemeente)
        buurt_ranks.append(b)
        gemeente_ranks.append(g)
        changed = run.classes != reference.classes
        return {"buurt_mean_abs_rank_shift": float((b - ref_buurt).abs().mean()),
                "gemeente_mean_abs_rank_shift": float((g - ref_gemeente).abs().mean()),
                "households_changing_class_share": float(run.households[changed].sum() / run.households.sum())}

    indices, samples, outputs = sobol_analysis(factors, model, n_base, seed)
    document = {
        "choices": {f.name: list(f.alternatives) for f in factors}, "base_overrides": base,
        "n_samples": len(samples), "n_distinct_configurations": len(cache), "seed": seed,
        "indices": indices,
        "households_changing_class_share": _interval([o["households_changing_class_share"] for o in outputs]),
        "buurten": _rank_intervals(buurt_ranks), "gemeenten": _rank_intervals(gemeente_ranks),
    }
    out = Path(out)
    write_bytes_atomic(out / "sensitivity.json", (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
    _plot(document, out / "rank_intervals.png")
    return document


def log_sensitivity(document: dict, out: Path, tracking_uri: str, experiment: str) -> str:
    """Log first-order and total indices (``sensitivity.<output>.<choice>.S1|ST``) and the files to MLflow."""
    from lbm_model.analysis_log import log_analysis

    metrics = {f"{output}.{choice}.{kind}": values[kind] for output, by_choice in document["indices"].items()
               for choice, values in by_choice.items() for kind in ("S1", "ST")}
    metrics["n_distinct_configurations"] = document["n_distinct_configurations"]
    params = {"choices": ",".join(document["choices"]), "n_samples": str(document["n_samples"])}
    return log_analysis("sensitivity", metrics, params, out, ("sensitivity.json", "rank_intervals.png"), tracking_uri,
                        experiment)


def _interval(values: list[float]) -> dict:
    v = np.asarray(values, float)
    return {"median": float(np.median(v)), "p05": float(np.quantile(v, 0.05)), "p95": float(np.quantile(v, 0.95))}


def _rank_intervals(samples: list[pd.Series]) -> list[dict]:
    frame = pd.concat(samples, axis=1)
    return [{"code": str(code), "median_rank": float(np.median(row)), "rank_p05": float(np.quantile(row, 0.05)),
             "rank_p95": float(np.quantile(row, 0.95))} for code, row in zip(frame.index, frame.to_numpy(float))]


def _plot(document: dict, path: Path) -> None:
    """Median rank and 90 % interval of every gemeente (sorted by median)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lbm_model.atomic import write_atomic

    rows = sorted(document["gemeenten"], key=lambda r: r["median_rank"])
    fig, ax = plt.subplots(figsize=(6, max(2.5, 0.25 * len(rows))))
    y = np.arange(len(rows))
    ax.errorbar([r["median_rank"] for r in rows], y,
                xerr=[[r["median_rank"] - r["rank_p05"] for r in rows], [r["rank_p95"] - r["median_rank"] for r in rows]],
                fmt="o", capsize=2)
    ax.set_yticks(y, [r["code"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("rank (1 = best), median and 90 % interval over the sampled choices")
    fig.tight_layout()
    write_atomic(path, lambda p: fig.savefig(p, format="png", dpi=110, metadata={"Software": None}))
    plt.close(fig)
