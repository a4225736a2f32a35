"""The MLflow pyfunc for a Barometer model (logged "from code": no pickle).

Input: feature rows (a DataFrame with the model's feature columns; missing ones count as missing).
Output: one row per input with `probability` (calibrated), `base_probability`, `model_run_id`,
and one `contrib__<feature>` column per feature: the probability points that feature adds, so
`base_probability + Σ contrib__* == probability` (`barometer.model.artefact` says how the
calibrated change is apportioned). Works with `mlflow.pyfunc.load_model`, `mlflow models serve` and
`mlflow.pyfunc.spark_udf` (pass `result_type=output_schema_ddl(features)`).
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "scoring_model"
CONTRIB_PREFIX = "contrib__"


def output_columns(feature_names: list[str]) -> list[str]:
    return [
        "probability",
        "base_probability",
        "model_run_id",
        *(CONTRIB_PREFIX + n for n in feature_names),
    ]


def output_schema_ddl(feature_names: list[str]) -> str:
    """Spark DDL of the output, for `spark_udf(..., result_type=...)`."""
    types = {"model_run_id": "string"}
    return ", ".join(f"`{c}` {types.get(c, 'double')}" for c in output_columns(feature_names))


class BarometerPyfunc(PythonModel):
    """Loads `barometer.model.artefact.ScoringModel` from the logged artefact folder."""

    def load_context(self, context) -> None:
        from barometer.model.artefact import ScoringModel

        self.model = ScoringModel.load(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None):
        frame = pd.DataFrame(model_input).reset_index(drop=True)
        explanation = self.model.explain(_coerce(frame, self.model.metadata.get("feature_kinds")))
        out = pd.DataFrame(
            {
                "probability": explanation.probability,
                "base_probability": np.full(len(frame), explanation.base_probability),
                "model_run_id": str(self.model.metadata.get("run_id", "")),
            }
        )
        points = explanation.points.reset_index(drop=True).add_prefix(CONTRIB_PREFIX)
        return pd.concat([out, points], axis=1)


def _coerce(frame: pd.DataFrame, kinds: dict | None) -> pd.DataFrame:
    """Categoricals as strings, bools as 0/1, the rest numeric (what training fed the booster)."""
    out = {}
    for name, kind in (kinds or {}).items():
        if name not in frame.columns:
            continue
        values = frame[name]
        if kind == "categorical":
            out[name] = values.astype("object").map(lambda v: None if pd.isna(v) else str(v))
        else:
            out[name] = pd.to_numeric(values.astype("object"), errors="coerce").astype(float)
    return frame.assign(**out)


mlflow.models.set_model(BarometerPyfunc())
