"""Estimator families. Each is one small class with the same fit signature and fitted attributes.

Swap them in Hydra with ``model=ols`` or ``model=ordinal_logit`` (``_target_`` in conf/model/).
"""

from lbm_model.estimators.base import LbmEstimator
from lbm_model.estimators.linear import LeastSquares
from lbm_model.estimators.ordinal import OrdinalLogit

__all__ = ["LbmEstimator", "LeastSquares", "OrdinalLogit"]
