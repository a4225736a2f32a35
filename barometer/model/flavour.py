"""The MLflow pyfunc for a Barometer model (logged "from code": no pickle).

Input: raw feature rows, as the warehouse holds them (a DataFrame with the model's feature columns;
absent ones count as missing). The signature (`input_schema`) follows the model's encoder: numeric
features are doubles, categorical ones text, and yes/no features any value the encoder reads as
one (true/false, 0/1, "yes"/"no"; `barometer.model.encoder`), so raw warehouse rows pass MLflow's
input check and are encoded exactly as in training.
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
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import Schema

from barometer.model.encoder import FeatureEncoder

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
        explanation = self.model.explain(frame)
        out = pd.DataFrame(
            {
                "probability": explanation.probability,
                "base_probability": np.full(len(frame), explanation.base_probability),
                "model_run_id": str(self.model.metadata.get("run_id", "")),
            }
        )
        points = explanation.points.reset_index(drop=True).add_prefix(CONTRIB_PREFIX)
        return pd.concat([out, points], axis=1)


def input_schema(encoder: FeatureEncoder) -> Schema:
    """The pyfunc's input columns, one per feature, typed by the encoder's kinds."""
    from mlflow.types.schema import AnyType, ColSpec, DataType

    types = {"numeric": DataType.double, "categorical": DataType.string, "bool": AnyType()}
    return Schema([ColSpec(types[kind], name) for name, kind in encoder.kinds_.items()])


def signature(encoder: FeatureEncoder, output: pd.DataFrame) -> ModelSignature:
    """The logged model's signature: `input_schema`, and the columns of an example `output`."""
    from mlflow.models import infer_signature

    return ModelSignature(
        inputs=input_schema(encoder), outputs=infer_signature(None, output).outputs
    )


mlflow.models.set_model(BarometerPyfunc())
