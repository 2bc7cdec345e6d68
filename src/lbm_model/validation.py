"""External validation (``lbm validate``): a frozen model's area scores against an independent reference.

The LBM 3.0 instrument report validates the scores against municipalities' own surveys. Here the
model scores the cells, household-weighted area scores come from ``scoring.aggregate_all`` (so
areas below the household minimum, and those hidden with them by complementary suppression, are
left out exactly as in a publication), and each reference row (area, level, year: ``value`` from
``n`` respondents) is matched to its area's score. Reference areas with fewer than
``min_respondents`` respondents (primer: 10) are left out and counted.

Per level and year: Pearson and Spearman correlation over the matched areas, and Pearson corrected
for the reference's sampling noise (Spearman's correction for attenuation): the reliability of the
reference values is ``lambda = 1 - mean(sd_a^2 / n_a) / var(value)``, the share of the variance of the
area values that is not sampling noise of an area mean of ``n_a`` answers with within-area sd
``sd_a`` (the optional ``sd`` column), and ``r_corrected = r / sqrt(lambda)``. The model's scores are
treated as free of noise. Without an ``sd`` column, or when ``lambda <= 0``, no correction is given
(and the reason is recorded). Per gemeente (buurt and wijk rows of gemeenten with at least
``MIN_AREAS_PER_GEMEENTE`` matched areas): the same correlation. The largest disagreements: areas
whose standardised score and standardised reference value differ most (z-scores within level and
year). This module imports no training stack (it runs on a frozen model, like ``lbm score``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lbm_model.contract import REFERENCE_LEVELS
from lbm_model.disclosure import DEFAULT_MIN_HOUSEHOLDS, DEFAULT_MIN_RESPONDENTS
from lbm_model.scoring import aggregate_all

MIN_AREAS = 3                      # a correlation needs at least this many matched areas
MIN_AREAS_PER_GEMEENTE = 5
N_DISAGREEMENTS = 10               # per level and year
FILES = ("validation.json", "summary.csv", "per_gemeente.csv", "disagreements.csv", "matched.csv", "scatter.png")


@dataclass(frozen=True)
class Validation:
    """What ``lbm validate`` reports; every table is area-level (published areas only)."""

    summary: pd.DataFrame          # per level and year: counts, r, spearman, reliability, r_corrected
    per_gemeente: pd.DataFrame     # per level, year and gemeente: areas, r
    disagreements: pd.DataFrame    # the largest standardised differences per level and year
    matched: pd.DataFrame          # every matched area: level, year, area_code, gemeente_code, score, value, n
    settings: dict

    def to_dict(self) -> dict:
        """JSON-ready (validation.json): settings, the summary rows and the method."""
        rows = [{k: _json_value(v) for k, v in row.items()} for row in self.summary.to_dict("records")]
        return {"settings": self.settings, "summary": rows, "method": METHOD}

    def metrics(self) -> dict[str, float]:
        """Flat finite numbers for MLflow: validation.<level>.<year>.<name>."""
        out = {}
        for row in self.summary.to_dict("records"):
            for name in ("r", "r_corrected", "spearman", "reliability", "areas", "left_out_few_respondents",
                         "left_out_suppressed"):
                value = row.get(name)
                if value is not None and np.isfinite(value):
                    out[f"validation.{row['level']}.{row['year']}.{name}"] = float(value)
        return out


METHOD = ("Pearson and Spearman correlation of household-weighted area scores (published areas only) with the "
          "reference value; r_corrected = r / sqrt(reliability), reliability = 1 - mean(sd^2 / n) / var(value) "
          "(Spearman's correction for attenuation by the reference's sampling noise; the scores are treated as "
          "noise-free); reference areas with fewer than min_respondents respondents are left out and counted.")


def _json_value(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def area_gemeente(scores: pd.DataFrame, level: str) -> pd.Series:
    """The gemeente of every area of ``level`` (codes nest; the first cell's gemeente)."""
    key = f"{level}_code"
    first = scores.drop_duplicates(key)
    return pd.Series(first["gemeente_code"].to_numpy(), index=first[key].to_numpy(), name="gemeente_code")


def validate_scores(scores: pd.DataFrame, reference: pd.DataFrame, *, min_respondents: int = DEFAULT_MIN_RESPONDENTS,
                    min_households: int = DEFAULT_MIN_HOUSEHOLDS) -> Validation:
    """Compare cell scores (with households and area codes, as ``score_cells(..., with_areas=True)``) with a
    validated reference table."""
    levels = [lvl for lvl in REFERENCE_LEVELS if (reference["level"] == lvl).any()]
    areas = aggregate_all(scores, levels, min_households) if levels else {}
    summary, per_gemeente, disagreements, matched_all = [], [], [], []
    for level in levels:
        table = areas[level].rename(columns={f"{level}_code": "area_code"})
        table = table.join(area_gemeente(scores, level), on="area_code")
        for year, rows in reference[reference["level"] == level].groupby("year", sort=True):
            few = rows["n"] < min_respondents
            joined = rows[~few].merge(table[["area_code", "year", "score", "suppressed", "gemeente_code"]],
                                      on=["area_code", "year"], how="left")
            unpublished = joined["score"].isna() | joined["suppressed"].fillna(True).astype(bool)
            matched = joined[~unpublished].reset_index(drop=True)
            summary.append({"level": level, "year": int(year), "reference_areas": int(len(rows)),
                            "left_out_few_respondents": int(few.sum()), "left_out_suppressed": int(unpublished.sum()),
                            "areas": int(len(matched)), **_correlations(matched)})
            per_gemeente += _per_gemeente(matched, level, int(year))
            disagreements.append(_largest_disagreements(matched, level, int(year)))
            matched_all.append(matched.assign(level=level, year=int(year)))
    columns = ["level", "year", "area_code", "gemeente_code", "score", "value", "n"]
    matched_frame = (pd.concat(matched_all, ignore_index=True)[columns] if matched_all
                     else pd.DataFrame(columns=columns))
    return Validation(
        summary=pd.DataFrame(summary), per_gemeente=pd.DataFrame(per_gemeente, columns=["level", "year", "gemeente_code",
                                                                                          "areas", "r"]),
        disagreements=pd.concat(disagreements, ignore_index=True) if disagreements else pd.DataFrame(),
        matched=matched_frame,
        settings={"min_respondents": int(min_respondents), "min_households": int(min_households),
                  "levels": levels, "has_sd": "sd" in reference.columns})


def _correlations(matched: pd.DataFrame) -> dict:
    """Pearson, Spearman, the reference's reliability and the corrected Pearson (None where not defined)."""
    out = {"r": None, "spearman": None, "reliability": None, "r_corrected": None, "correction": None}
    if len(matched) < MIN_AREAS or matched["score"].std() == 0 or matched["value"].std() == 0:
        out["correction"] = f"fewer than {MIN_AREAS} matched areas or no variation"
        return out
    out["r"] = float(np.corrcoef(matched["score"], matched["value"])[0, 1])
    out["spearman"] = float(matched["score"].rank().corr(matched["value"].rank()))
    if "sd" not in matched.columns:
        out["correction"] = "not computed: the reference has no sd column (within-area sd of the answers)"
        return out
    reliability = 1.0 - float(np.mean(matched["sd"] ** 2 / matched["n"])) / float(matched["value"].var(ddof=1))
    out["reliability"] = reliability
    if reliability <= 0:
        out["correction"] = "not computed: the sampling noise is as large as the spread of the reference values"
        return out
    out["r_corrected"] = out["r"] / float(np.sqrt(reliability))
    out["correction"] = "r / sqrt(reliability), reliability = 1 - mean(sd^2 / n) / var(value)"
    return out


def _per_gemeente(matched: pd.DataFrame, level: str, year: int) -> list[dict]:
    if level == "gemeente":
        return []
    rows = []
    for gemeente, part in matched.groupby("gemeente_code", sort=True):
        r = (float(np.corrcoef(part["score"], part["value"])[0, 1])
             if len(part) >= MIN_AREAS_PER_GEMEENTE and part["score"].std() > 0 and part["value"].std() > 0 else None)
        rows.append({"level": level, "year": year, "gemeente_code": str(gemeente), "areas": int(len(part)), "r": r})
    return rows


def _largest_disagreements(matched: pd.DataFrame, level: str, year: int) -> pd.DataFrame:
    """Areas whose standardised score and standardised reference value differ most."""
    if len(matched) < MIN_AREAS:
        return pd.DataFrame()
    z_score = (matched["score"] - matched["score"].mean()) / matched["score"].std(ddof=0)
    z_value = (matched["value"] - matched["value"].mean()) / matched["value"].std(ddof=0)
    frame = matched[["area_code", "gemeente_code", "score", "value", "n"]].assign(
        level=level, year=year, z_score=z_score, z_value=z_value, difference=z_score - z_value)
    frame = frame.reindex(frame["difference"].abs().sort_values(ascending=False, kind="stable").index)
    frame["direction"] = np.where(frame["difference"] > 0, "model higher than reference", "model lower than reference")
    return frame.head(N_DISAGREEMENTS)[["level", "year", "area_code", "gemeente_code", "score", "value", "n", "z_score",
                                        "z_value", "difference", "direction"]].reset_index(drop=True)


def scatter_png(validation: Validation) -> bytes:
    """One panel per level: reference value against the area score, a colour per year, r in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lbm_model.report.figures import png_bytes

    levels = list(dict.fromkeys(validation.matched["level"])) or ["none"]
    fig, axes = plt.subplots(1, len(levels), figsize=(4.2 * len(levels), 3.8), squeeze=False)
    for axis, level in zip(axes[0], levels):
        part = validation.matched[validation.matched["level"] == level]
        for year, rows in part.groupby("year", sort=True):
            stats = validation.summary[(validation.summary["level"] == level) & (validation.summary["year"] == year)]
            r = stats["r"].iloc[0] if len(stats) else None
            axis.scatter(rows["score"], rows["value"], s=8, alpha=0.6,
                         label=f"{year} (r={r:.2f}, {len(rows)} areas)" if r is not None else str(year))
        axis.set_title(f"{level}", fontsize=9)
        axis.set_xlabel("model score (judgement points, household-weighted)", fontsize=8)
        axis.set_ylabel("reference value", fontsize=8)
        if len(part):
            axis.legend(fontsize=7)
    fig.suptitle("External validation: area scores against the reference", fontsize=10)
    fig.tight_layout()
    return png_bytes(fig)


def validation_files(validation: Validation) -> dict[str, bytes]:
    """File name -> bytes of everything ``lbm validate`` writes."""
    def csv(frame: pd.DataFrame) -> bytes:
        return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")

    return {"validation.json": (json.dumps(validation.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8"),
            "summary.csv": csv(validation.summary), "per_gemeente.csv": csv(validation.per_gemeente),
            "disagreements.csv": csv(validation.disagreements), "matched.csv": csv(validation.matched),
            "scatter.png": scatter_png(validation)}


def write_validation(validation: Validation, out: str | Path) -> list[Path]:
    """Write every file into ``out`` (all files or none)."""
    from lbm_model.atomic import write_many_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_many_atomic([(out / name, (lambda data: lambda p: p.write_bytes(data))(data))
                              for name, data in validation_files(validation).items()])


def log_validation(validation: Validation, files: list[Path], run_id: str, tracking_uri: str) -> None:
    """Log the metrics and files into an existing MLflow run (artifacts under validation/)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(validation.metrics())
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="validation")
