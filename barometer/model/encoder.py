"""The one encoder: raw feature rows → the float matrix every scorer reads.

Training fits it on the training rows, the artefact stores it (as JSON, in `model.json`), and
everything that scores transforms through it: the backtests, `barometer score`, the MLflow pyfunc
and the service. So a raw row gives the same floats on every path.

    encoder = FeatureEncoder({"calls_90d": "numeric", "segment": "categorical"}).fit(train)
    matrix = encoder.transform(rows)  # (n, 2) floats; set_output(transform="pandas") for a frame

It follows scikit-learn's transformer contract (`__init__` stores `kinds`, `fit` learns, learned
attributes end in `_`, `get_params`/`set_params`, `set_output`) without importing scikit-learn, so
the pyfunc and the service load it cheaply. Per kind:

- `numeric`: floats; null, pandas' NA and text that is not a number become NaN.
- `bool`: 1.0 / 0.0 from true/false, from numbers (a number passes as its float: 1/0), or from
  the words true/false, yes/no, t/f, y/n, 1/0 in any case; null becomes NaN. Other text is
  refused with a `ValueError` naming the column, the row and the value.
- `categorical`: the position of `str(value)` among the levels seen by `fit` (sorted); unknown
  levels and null become NaN.

Columns absent from the input are missing (NaN) on every row; columns the encoder does not know
are ignored. A DataFrame, or a 2-D array whose columns are in the encoder's feature order (the
service's request rows), can be transformed.
"""

from __future__ import annotations

import math
import numbers
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

Kind = Literal["numeric", "categorical", "bool"]
KINDS = ("numeric", "categorical", "bool")
SMALL_BATCH = 64  # rows; up to this many, a DataFrame is read through one object array
TRUE_WORDS = frozenset({"true", "yes", "t", "y", "1", "1.0"})
FALSE_WORDS = frozenset({"false", "no", "f", "n", "0", "0.0"})
_REFUSED = object()  # what `_flag` returns for a value that is not a yes/no value


class NotFittedError(ValueError, AttributeError):
    """The encoder was used before `fit` (scikit-learn's exception has the same two bases)."""


class FeatureEncoder:
    """Raw feature values → floats, one column per feature in `kinds`' order.

    `kinds` maps each feature name to `numeric`, `categorical` or `bool`. After `fit`:
    `feature_names_in_` (the features, in order), `n_features_in_`, `kinds_` and `categories_`
    ({categorical feature: its sorted levels}).
    """

    def __init__(self, kinds: dict[str, str] | None = None) -> None:
        self.kinds = kinds

    # -------------------------------------------------------------- scikit-learn's contract

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"kinds": self.kinds}

    def set_params(self, **params: Any) -> FeatureEncoder:
        unknown = set(params) - {"kinds"}
        if unknown:
            raise ValueError(f"FeatureEncoder has no parameter(s) {sorted(unknown)}")
        self.kinds = params.get("kinds", self.kinds)
        return self

    def set_output(self, *, transform: str | None = None) -> FeatureEncoder:
        """`transform="pandas"`: `transform` returns a DataFrame (feature columns, the input's
        index); `"default"` or None: a float ndarray."""
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"set_output(transform={transform!r}): use 'default' or 'pandas'")
        self._output = transform
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "categories_")

    def __sklearn_tags__(self):
        """A transformer of 2-D tables with text, categories and missing values; no target."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(),
            input_tags=InputTags(categorical=True, string=True, allow_nan=True),
        )

    def __repr__(self) -> str:
        return f"FeatureEncoder({len(self.kinds or {})} features)"

    def fit(self, X: pd.DataFrame, y: object = None) -> FeatureEncoder:
        """Learn each categorical feature's levels from `X` (sorted, as text)."""
        kinds = dict(self.kinds or {})
        wrong = {name: kind for name, kind in kinds.items() if kind not in KINDS}
        if wrong:
            raise ValueError(f"unknown feature kind(s) {wrong}; expected one of {KINDS}")
        self.kinds_ = kinds
        self.feature_names_in_ = np.asarray(list(kinds), dtype=object)
        self.n_features_in_ = len(kinds)
        self.categories_ = {
            name: sorted(X[name].dropna().astype(str).unique().tolist())
            for name, kind in kinds.items()
            if kind == "categorical" and name in X.columns
        }
        self.__dict__.pop("_levels", None)
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray | pd.DataFrame:
        """The float matrix of `X` (see the module's rules per kind)."""
        self._check_fitted()
        columns, index = self._columns(X)
        out = np.empty((len(index), self.n_features_in_), dtype=float)
        for j, (name, values) in enumerate(zip(self.feature_names_in_, columns, strict=True)):
            out[:, j] = self._encode(name, values, index)
        if getattr(self, "_output", None) == "pandas":
            return pd.DataFrame(out, columns=self.feature_names, index=index)
        return out

    def fit_transform(self, X: pd.DataFrame, y: object = None) -> np.ndarray | pd.DataFrame:
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        self._check_fitted()
        return self.feature_names_in_.copy()

    # -------------------------------------------------------------- what the rest reads

    @property
    def feature_names(self) -> list[str]:
        """The features in column order."""
        self._check_fitted()
        return self.feature_names_in_.tolist()

    def to_dict(self) -> dict:
        """The fitted state as JSON-ready data (what `model.json` stores)."""
        self._check_fitted()
        return {"kinds": dict(self.kinds_), "categories": self.categories_}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureEncoder:
        """The encoder `to_dict` described, fitted."""
        kinds = {str(k): str(v) for k, v in data["kinds"].items()}
        encoder = cls(kinds).fit(pd.DataFrame())
        encoder.categories_ = {
            str(k): [str(v) for v in levels] for k, levels in data["categories"].items()
        }
        encoder.__dict__.pop("_levels", None)
        return encoder

    # -------------------------------------------------------------- the encoding itself

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("This FeatureEncoder is not fitted yet: call fit first.")

    def _columns(self, X: pd.DataFrame | np.ndarray) -> tuple[list, pd.Index]:
        """One column of values per feature (None where `X` lacks the feature), and the rows'
        index. A small DataFrame is read through one object array: per-column pandas work would
        cost more than the encoding."""
        names = self.feature_names_in_.tolist()
        if isinstance(X, pd.DataFrame):
            if len(X) <= SMALL_BATCH:
                values = feature_values(X, names)
                return [values[:, j] for j in range(len(names))], X.index
            return [X[name] if name in X.columns else None for name in names], X.index
        values = np.asarray(X, dtype=object)
        if values.ndim != 2 or values.shape[1] != len(names):
            raise ValueError(
                f"expected rows of {len(names)} values in the encoder's feature order, "
                f"got an array of shape {values.shape}"
            )
        return [values[:, j] for j in range(len(names))], pd.RangeIndex(len(values))

    def _encode(self, name: str, values: Any, index: pd.Index) -> np.ndarray:
        if values is None:
            return np.full(len(index), np.nan)
        kind = self.kinds_[name]
        if kind == "categorical":
            return codes(values, self._levels.get(name, {}), self.categories_.get(name, []))
        if kind == "bool":
            return flags(values, name, index)
        return floats(values)

    @cached_property
    def _levels(self) -> dict[str, dict[str, int]]:
        """{categorical feature: {level: code}} (`fit` and `from_dict` reset it)."""
        return {
            name: {level: code for code, level in enumerate(levels)}
            for name, levels in self.categories_.items()
        }


def feature_values(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """`frame`'s values for `names` as an (n, len(names)) object array; absent columns are None."""
    where = {column: i for i, column in enumerate(frame.columns.tolist())}
    positions = np.array([where.get(name, -1) for name in names], dtype=int)
    out = np.full((len(frame), len(names)), None, dtype=object)
    present = positions >= 0
    if present.any():
        out[:, present] = frame.to_numpy(dtype=object)[:, positions[present]]
    return out


def _typed(values: Any) -> bool:
    """A pandas column of numbers or booleans (read as floats in one conversion)."""
    return isinstance(values, pd.Series) and (
        pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)
    )


def _objects(values: Any) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def floats(values: Any) -> np.ndarray:
    """A column as floats; null, pandas' NA and non-numbers become NaN."""
    if _typed(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    objects = _objects(values)
    try:
        return objects.astype(float)
    except (TypeError, ValueError):
        return _FLOAT(objects).astype(float)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan


_FLOAT = np.frompyfunc(_float, 1, 1)


def _missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def _flag(value: object) -> object:
    """1.0 / 0.0 / NaN for a yes/no value, `_REFUSED` for anything else."""
    if _missing(value):
        return np.nan
    if isinstance(value, bool | np.bool_ | numbers.Number):
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return 1.0
        if word in FALSE_WORDS:
            return 0.0
        if word == "":
            return np.nan
    return _REFUSED


_FLAG = np.frompyfunc(_flag, 1, 1)


def flag_value(value: object) -> float:
    """One yes/no value as 1.0 / 0.0 / NaN; a `ValueError` for anything else."""
    found = _flag(value)
    if found is _REFUSED:
        raise ValueError(f"{value!r} is not a yes/no value (true/false, 1/0 or yes/no)")
    return found  # type: ignore[return-value]


def flags(values: Any, name: str, index: pd.Index) -> np.ndarray:
    """A yes/no column as floats; refuses text that is not a yes/no word, naming the row."""
    if _typed(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    objects = _objects(values)
    out = _FLAG(objects)
    refused = np.fromiter((v is _REFUSED for v in out), dtype=bool, count=len(out))
    if refused.any():
        row = int(np.argmax(refused))
        raise ValueError(
            f"Feature {name!r}, row {index[row]!r}: {objects[row]!r} is not a yes/no value "
            "(expected true/false, 1/0 or yes/no)."
        )
    return out.astype(float)


def codes(values: Any, levels: dict[str, int], ordered: list[str]) -> np.ndarray:
    """A categorical column as the codes of its levels; unknown levels and null are NaN."""
    if isinstance(values, pd.Series) and pd.api.types.is_string_dtype(values):
        # Text only (pandas checks an object column's values): `str(v) == v`, one hash lookup.
        found = pd.Index(ordered, dtype=object).get_indexer(values.to_numpy(dtype=object))
        return np.where(found < 0, np.nan, found).astype(float)
    return _CODE(_objects(values), levels).astype(float)


def _code(value: object, levels: dict[str, int]) -> float:
    if _missing(value):
        return np.nan
    return levels.get(value if isinstance(value, str) else str(value), np.nan)


_CODE = np.frompyfunc(_code, 2, 1)
