"""Estimator families: one small class each, one contract (estimators/base.py), one results object.

Swap them in Hydra with ``model=ols``, ``ordinal_logit``, ``multilevel``, ``elastic_net``, ``spatial_error``,
``spatial_lag``, ``bayes_ordinal``, the behaviour model ``hedonic`` (fitted on transactions) or ``combined`` (judgement and behaviour
model, weights combined by a recorded rule; ``_target_`` in the package's conf/model/). model.json records a family by its stable name (``FAMILIES``), never an import path.
"""

from lbm_model.estimators.base import LbmEstimator, NotFittedError
from lbm_model.estimators.bayes import BayesOrdinal
from lbm_model.estimators.combined import Combined
from lbm_model.estimators.elastic_net import ElasticNetSelection
from lbm_model.estimators.hedonic import Hedonic
from lbm_model.estimators.linear import LeastSquares
from lbm_model.estimators.multilevel import Multilevel
from lbm_model.estimators.ordinal import OrdinalLogit
from lbm_model.estimators.results import FitResults
from lbm_model.estimators.spatial import SpatialError, SpatialLag

FAMILIES: dict[str, type[LbmEstimator]] = {
    cls.family: cls for cls in (LeastSquares, OrdinalLogit, Multilevel, ElasticNetSelection, SpatialError, SpatialLag,
                               Hedonic, Combined, BayesOrdinal)}


def estimator_for(family: str, params: dict) -> LbmEstimator:
    """A new, unfitted estimator of the family recorded in a frozen model."""
    if family not in FAMILIES:
        raise KeyError(f"unknown estimator family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[family](**params)


__all__ = ["FAMILIES", "BayesOrdinal", "Combined", "ElasticNetSelection", "FitResults", "Hedonic", "LbmEstimator", "LeastSquares", "Multilevel",
           "NotFittedError", "OrdinalLogit", "SpatialError", "SpatialLag", "estimator_for"]
