"""Estimator families: one small class each, one contract (estimators/base.py), one results object.

Swap them in Hydra with ``model=ols`` or ``model=ordinal_logit`` (``_target_`` in the package's
conf/model/). model.json records a family by its stable name (``FAMILIES``), never an import path.
"""

from lbm_model.estimators.base import LbmEstimator, NotFittedError
from lbm_model.estimators.linear import LeastSquares
from lbm_model.estimators.ordinal import OrdinalLogit
from lbm_model.estimators.results import FitResults

FAMILIES: dict[str, type[LbmEstimator]] = {cls.family: cls for cls in (LeastSquares, OrdinalLogit)}


def estimator_for(family: str, params: dict) -> LbmEstimator:
    """A new, unfitted estimator of the family recorded in a frozen model."""
    if family not in FAMILIES:
        raise KeyError(f"unknown estimator family {family!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[family](**params)


__all__ = ["FAMILIES", "FitResults", "LbmEstimator", "LeastSquares", "NotFittedError", "OrdinalLogit", "estimator_for"]
