"""The re-estimation spine without configuration machinery: design, fit, class thresholds, frozen content.

``experiment.py`` resolves the Hydra config and calls these functions with plain objects.
"""

from __future__ import annotations

import dataclasses
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lbm_model import __version__
from lbm_model.atomic import write_bytes_atomic
from lbm_model.catalog import Indicator
from lbm_model.classes import CLASS_LABELS, ThresholdRule, assign_classes, class_shares, fix_thresholds
from lbm_model.design import check_base_year_households, check_design, check_fit_is_finite, check_market_design
from lbm_model.dimensions import DIMENSIONS
from lbm_model.errors import ContractError, LbmError
from lbm_model.estimators.base import LbmEstimator
from lbm_model.estimators.results import FitResults
from lbm_model.frozen import DRAWS_FIELD, INTERVAL_FIELD, MODEL_FILE, frozen_bytes
from lbm_model.features import EstimationData, estimation_data, standardise, training_ranges, transaction_data
from lbm_model.inputs import Inputs
from lbm_model.transforms import Standardisation

if TYPE_CHECKING:
    from lbm_model.audit import Audit

FROZEN_INTERVAL_LEVEL = 0.9     # posterior families: the credible interval model.json records per indicator
SCORE_SCALE = ("judgement points: deviation of the expected 1..5 judgement of the living environment from its level "
               "at the standardisation reference (all training cell-years); score = sum of the five dimension scores")


@dataclass
class FittedModel:
    """A fitted estimator together with everything needed to repeat its input preparation."""

    estimator: LbmEstimator
    indicators: tuple[Indicator, ...]
    standardisation: dict[str, Standardisation]
    ranges: dict[str, tuple[float, float]]
    standardised: pd.DataFrame      # all cells, standardised model indicators
    data: EstimationData | None = None  # the respondent-level design it was fitted on (checks only; never exported)

    @property
    def results(self) -> FitResults:
        """What the fit produced (the one object freeze, checks and tracking read)."""
        return self.estimator.results

    def indicator_matrix(self) -> np.ndarray:
        """The standardised model indicators of every training cell-year (cells x indicators, in the order
        of ``indicators``): a view of ``standardised`` where it is one block, never a second copy kept."""
        names = [i.name for i in self.indicators]
        frame = self.standardised if list(self.standardised.columns) == names else self.standardised[names]
        return frame.to_numpy(float)

    def cell_scores(self) -> np.ndarray:
        """Total score of every training cell-year in judgement points."""
        weights = self.results.judgement_weights.reindex([i.name for i in self.indicators]).to_numpy()
        return self.indicator_matrix() @ weights


def select_indicators(inputs: Inputs, exclude: list[str] | None = None, candidates: bool = False
                      ) -> tuple[Indicator, ...]:
    """The model terms: catalog indicators not flagged stigmatising (nor ``candidate``, unless
    ``candidates``), minus ``exclude``."""
    exclude = list(exclude or [])
    unknown = [n for n in exclude if n not in inputs.catalog.names]
    if unknown:
        raise ContractError(f"indicators.exclude names unknown indicator(s) {', '.join(unknown)}; "
                            f"expected names from {inputs.paths['catalog']}.")
    if candidates and not any(i.candidate for i in inputs.catalog.model_indicators):
        raise ContractError(f"{inputs.paths['catalog']}: the indicator set asks for candidate indicators "
                            "(indicators.candidates=true, e.g. indicators=next) but the catalog flags none "
                            "(candidate: true); a synthetic world made before candidates existed needs regenerating "
                            "(lbm world), or use indicators=lbm3.")
    chosen = tuple(i for i in inputs.catalog.model_indicators
                   if i.name not in exclude and (candidates or not i.candidate))
    if not chosen:
        raise ContractError(f"{inputs.paths['catalog']}: no indicators left to fit after exclusions.")
    return chosen


def fit_model(inputs: Inputs, estimator, indicators: tuple[Indicator, ...], adjust: list[str] | None = None,
              prepared: FittedModel | None = None) -> FittedModel:
    """Standardise, join respondents to cells and fit ``estimator``.

    ``adjust`` names cell columns (e.g. composition) that enter as controls, never as terms.
    ``prepared``: an earlier fit on the same inputs and indicators whose standardisation and
    standardised cells are reused (a refit such as the proxy audit's; no second cells-sized matrix).
    """
    if prepared is not None and prepared.indicators == tuple(indicators):
        constants, standardised, ranges = prepared.standardisation, prepared.standardised, prepared.ranges
    else:
        constants, standardised = standardise(inputs.cells, indicators)
        ranges = training_ranges(inputs.cells, indicators)
    adjust_frame = None
    if adjust:
        adjust_frame = standardise(inputs.cells, [inputs.catalog.by_name(n) for n in adjust])[1]
    if getattr(estimator, "uses_expected_signs", False) and estimator.get_params().get("sign_constraints"):
        estimator.set_params(expected_signs={i.name: int(i.expected_sign) for i in indicators})
    fits_on = getattr(estimator, "fits_on", "survey")
    market = None
    if fits_on == "transactions":
        data = _transaction_design(inputs, estimator, standardised, adjust_frame)
    else:
        data = estimation_data(inputs.survey, inputs.cells, standardised, inputs.catalog.controls, adjust_frame)
        check_design(data.indicators, data.controls, data.response, data.weight, data.cluster, inputs.paths["survey"])
    if fits_on == "survey+transactions":      # the combined model: judgement and behaviour components
        market = _transaction_design(inputs, estimator, standardised, adjust_frame)
    stats = (estimator.fit_data(data) if market is None else estimator.fit_data(data, market=market)).results.fit_stats
    if not stats.converged:
        limit = estimator.get_params().get("max_iter")
        raise LbmError(f"the {estimator.family} fit did not converge ({stats.iterations} iterations"
                       + (f", max_iter={limit}" if limit is not None else "") + "); nothing was frozen. "
                       "Raise model.estimator.max_iter or check the indicators for collinearity.")
    check_fit_is_finite(estimator.results.judgement_weights, estimator.results.judgement_standard_errors,
                        len(data.response), len(np.unique(data.cluster)))
    return FittedModel(estimator=estimator, indicators=indicators, standardisation=constants,
                       ranges=ranges, standardised=standardised, data=data)


def _transaction_design(inputs: Inputs, estimator, standardised: pd.DataFrame,
                        adjust_frame: pd.DataFrame | None) -> EstimationData:
    """The behaviour model's design from the transactions table (refused when there is none)."""
    if inputs.transactions is None:
        what = (f"the {estimator.family} model is" if estimator.fits_on == "transactions"
                else f"the behaviour component of the {estimator.family} model is")
        raise LbmError(f"{what} fitted on sold dwellings, but no transactions table was given; "
                       "set data.transactions=PATH (docs/data-contract.md, 'transactions').")
    data = transaction_data(inputs.transactions, inputs.cells, standardised, inputs.catalog.price_controls)
    if adjust_frame is not None:
        data = dataclasses.replace(data, controls=pd.concat(
            [data.controls, adjust_frame.iloc[data.cell_position].reset_index(drop=True)], axis=1))
    check_market_design(data.indicators, data.controls, data.cluster, inputs.paths["transactions"])
    return data


def class_thresholds(fitted: FittedModel, cells: pd.DataFrame, rule: ThresholdRule) -> np.ndarray:
    """Fix the nine classes on the base year's household-weighted cell scores."""
    base = (cells["year"] == rule.base_year).to_numpy()
    if not base.any():
        raise LbmError(f"classes.base_year={rule.base_year} has no cells; choose one of "
                       f"{', '.join(map(str, sorted(cells['year'].unique())))} (override classes.base_year=YEAR).")
    check_base_year_households(cells, rule.base_year, "the cells table")
    return fix_thresholds(fitted.cell_scores()[base], cells["households"].to_numpy()[base], rule)


def code_version() -> dict:
    """Package version and, when run from a git checkout, the commit."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"package": f"lbm-model {__version__}", "git_commit": commit}


def frozen_content(fitted: FittedModel, inputs: Inputs, rule: ThresholdRule, thresholds: np.ndarray,
                   model_version: str, seed: int) -> dict:
    """Everything that determines scores, as plain JSON-ready data (read from the results object)."""
    results = fitted.results
    judgement_se = results.judgement_standard_errors
    posterior = results.uncertainty.kind == "posterior"
    interval = results.conf_int(FROZEN_INTERVAL_LEVEL) * results.judgement_scale if posterior else None
    entries = []
    for ind in fitted.indicators:
        const, (low, high) = fitted.standardisation[ind.name], fitted.ranges[ind.name]
        entries.append({
            "name": ind.name, "dimension": ind.dimension, "description": ind.description,
            "transform": ind.transform, "expected_sign": ind.expected_sign,
            "mean": const.mean, "sd": const.sd, "train_min": low, "train_max": high,
            "weight": float(results.judgement_weights[ind.name]),
            "native_weight": float(results.weights[ind.name]),
            "standard_error": None if judgement_se is None else float(judgement_se[ind.name]),
            **({INTERVAL_FIELD: [float(interval.at[ind.name, "lower"]), float(interval.at[ind.name, "upper"])]}
               if posterior else {}),
        })
    cells = inputs.cells
    base = (cells["year"] == rule.base_year).to_numpy()
    base_classes = assign_classes(fitted.cell_scores()[base], thresholds)
    return {
        "model_version": model_version,
        "code_version": code_version(),
        "score_scale": SCORE_SCALE,
        "dimensions": DIMENSIONS,
        "indicators": entries,
        "excluded_stigmatising": [i.name for i in inputs.catalog.stigmatising_indicators],
        "estimation_controls": _estimation_controls(fitted, inputs),
        "estimator": _estimator_record(fitted),
        "classes": {
            "labels": list(CLASS_LABELS), "thresholds": [float(t) for t in thresholds],
            "rule": {"name": rule.name, "base_year": rule.base_year, "anchor_class": rule.anchor_class,
                     "anchor_fraction": rule.anchor_fraction, "width_sd": rule.width_sd, "width": rule.width},
            "base_year_household_shares": [float(s) for s in class_shares(base_classes, cells["households"].to_numpy()[base])],
        },
        "training_data": {
            "fingerprint_sha256": inputs.fingerprint,
            "files": {k: {"name": Path(p).name, "sha256": inputs.sha256[k]} for k, p in inputs.paths.items()},
            "n_cell_years": int(len(cells)), "years": sorted(int(y) for y in cells["year"].unique()),
            "n_respondents": int(len(inputs.survey)),
            "survey_years": sorted(int(y) for y in inputs.survey["year"].unique()),
            **({"n_transactions": int(len(inputs.transactions)),
                "transaction_years": sorted(int(y) for y in inputs.transactions["year"].unique())}
               if inputs.transactions is not None else {}),
        },
        "seed": int(seed),
        **({DRAWS_FIELD: _posterior_draws(fitted)} if posterior else {}),
    }


def _estimator_record(fitted: FittedModel) -> dict:
    """The results' own record; a combined model adds each component's part per dimension."""
    record = fitted.results.frozen_record()
    extras = fitted.results.extras
    if hasattr(extras, "contributions"):
        from lbm_model.estimators.combined import contributions_by_dimension

        record["extras"]["contributions_by_dimension"] = contributions_by_dimension(
            extras.contributions(), {i.name: i.dimension for i in fitted.indicators})
    return record


def _posterior_draws(fitted: FittedModel) -> dict:
    """The thinned posterior draws of the weights in judgement points (indicator order of model.json), for
    ``lbm score --class-probabilities``; the posterior mean's judgement scale converts every draw."""
    results = fitted.results
    draws = results.uncertainty.frozen_draws()[[i.name for i in fitted.indicators]] * results.judgement_scale
    return {"source": "posterior", "n_draws": int(len(draws)), "scale": "judgement points per sd",
            "weights": [[float(v) for v in row] for row in draws.to_numpy()]}


def _estimation_controls(fitted: FittedModel, inputs: Inputs) -> list[str]:
    """The controls the fit used (never scored): respondent controls, or for the behaviour model the
    dwelling controls and the year fixed effects."""
    fits_on = getattr(fitted.estimator, "fits_on", "survey")
    market = [*inputs.catalog.price_controls, "year (fixed effects)"]
    if fits_on == "transactions":
        return market
    return list(inputs.catalog.controls) + (market if fits_on == "survey+transactions" else [])


def freeze(fitted: FittedModel, inputs: Inputs, rule: ThresholdRule, export_dir: str | Path, *, model_version: str,
           seed: int, provenance: dict, thresholds: np.ndarray | None = None, audit: Audit | None = None,
           publish: bool = True) -> tuple[Path, dict]:
    """Build the frozen content and publish ``export_dir/model.json`` together with its audit.

    ``thresholds`` are the class thresholds (fixed here from the base year when not given);
    ``audit`` is a staged audit (``audit.run_audit``): the content records its sha256, and its
    audit.json and evidence are moved into ``export_dir`` right before model.json. The sealed
    bytes are made first, so invalid content (a NaN anywhere) writes nothing; the previous
    evidence is deleted only after model.json is in place. With ``publish=False`` the sealed
    model.json stays in the audit's staging directory (returned) until ``audit.publish(export_dir)``.
    """
    if thresholds is None:
        thresholds = class_thresholds(fitted, inputs.cells, rule)
    content = frozen_content(fitted, inputs, rule, thresholds, model_version, seed)
    if audit is not None:
        content["audit"] = audit.reference()
    data = frozen_bytes(content, provenance)
    if audit is None:
        return write_bytes_atomic(Path(export_dir) / MODEL_FILE, data), content
    staged = audit.stage_model(data)
    return (audit.publish(export_dir) if publish else staged), content
