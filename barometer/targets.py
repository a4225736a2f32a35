"""What each predicted outcome is about: its entity, id, tables and words, in one place.

Training reads the feature and label tables named here, scoring scores the entity's rows under
its id column, and the pages count it in these words. A new target is one entry here plus its
experiment config (`experiments/<target>.yaml`) and its labels (`features.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    entity: str  # the feature registry's entity (`features.registry`)
    key: str  # the id column of the entity's rows
    group: str | None  # rows of one group never straddle a training split
    noun: str  # one scored entity, in a user's words
    nouns: str  # several of them
    peer_column: str  # scores are ranked (percentile) among rows sharing this context column
    action_bands: tuple[str, ...]  # bands whose rows get suggested actions

    @property
    def features(self) -> str:
        """The training feature table (one row per entity and cutoff)."""
        return f"features_{self.entity}"

    @property
    def labels(self) -> str:
        return f"labels_{self.name}"

    @property
    def scoring_features(self) -> str:
        """The feature rows of each scoring run (`barometer.scoring.history`)."""
        return f"scoring_features_{self.entity}"


TARGETS: dict[str, Target] = {
    "churn": Target(
        "churn", "account", "account_id", None, "account", "accounts", "segment", ("high", "medium")
    ),
    "deal_win": Target(
        "deal_win",
        "opportunity",
        "opportunity_id",
        "opportunity_id",
        "open deal",
        "open opportunities",
        "stage",
        ("high", "medium", "low"),
    ),
    # Managers only; no suggested actions: a rep's behaviour is coached, not prescribed by a model.
    "rep_attrition": Target("rep_attrition", "rep", "rep_id", None, "rep", "reps", "team", ()),
}
ID_COLUMNS = {name: t.key for name, t in TARGETS.items()}
