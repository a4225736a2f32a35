"""What clients send."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH_ROWS = 1000
FeatureValue = float | int | bool | str | None


class ScoreRows(BaseModel):
    """A batch of raw feature rows, one dict per entity (feature name → value).

    Up to 1000 rows per request. An optional `id` key is echoed back. Features a row leaves out,
    or sends as null, are treated as missing. Numeric features take finite JSON numbers (true and
    false count as 1 and 0), yes/no features also "yes"/"no" or "true"/"false"; categorical
    features take one of the model's categories. Unknown
    feature names, NaN, infinities, text for a numeric feature, numbers for a categorical one and
    unknown categories are refused with a 422 naming the row and field.
    """

    model_config = ConfigDict(extra="forbid")

    rows: Annotated[list[dict[str, FeatureValue]], Field(min_length=1, max_length=MAX_BATCH_ROWS)]
    top_k: Annotated[int, Field(ge=0, le=20, description="Reasons per direction.")] = 3


class WhatIf(BaseModel):
    """An entity and changed behaviours (feature name → new value, by `ScoreRows`'s rules)."""

    model_config = ConfigDict(extra="forbid")

    target: Literal["churn", "deal_win"]
    entity_id: Annotated[str, Field(min_length=1, max_length=200)]
    changes: Annotated[dict[str, FeatureValue], Field(min_length=1, max_length=50)]
