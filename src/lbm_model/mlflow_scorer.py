"""The frozen scorer as an MLflow Model (pyfunc, "models from code": nothing is pickled).

MLflow copies this file into the logged model and runs it on load; ``load_context`` reads and
verifies the frozen model.json shipped as the model's artifact, so a registered model scores
exactly like ``lbm score`` (same validation, same columns) and refuses a tampered model.json.
Only :mod:`lbm_model.registry` points MLflow at this file; nothing imports it.
"""

from __future__ import annotations

import mlflow
import pandas as pd

from lbm_model.scoring import CELL_OUTPUT_COLUMNS, CompiledScorer, score_cells


class FrozenScorerModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper: a cells DataFrame in the data contract's shape -> one scored row per cell."""

    def load_context(self, context) -> None:
        self.scorer = CompiledScorer.load(context.artifacts["frozen_model"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        scored = score_cells(self.scorer, pd.DataFrame(model_input), "model input")
        return scored[list(CELL_OUTPUT_COLUMNS)]


mlflow.models.set_model(FrozenScorerModel())
