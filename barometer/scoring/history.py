"""Score storage in the warehouse: the `scores` table keeps every scoring (history), so scores
can be compared over time. Rescoring the same target and as-of date replaces that run atomically.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from barometer.scoring.scores import ID_COLUMNS
from features.warehouse import table_exists

SCORES_TABLE = "scores"
SCORES_DDL = f"""
create table if not exists {SCORES_TABLE} (
    target varchar not null,
    entity_id varchar not null,
    account_id varchar,
    as_of timestamp not null,
    probability double not null,
    band varchar not null,
    percentile double,
    base_probability double,
    model_version varchar not null,
    reasons varchar,
    segment varchar,
    owner_rep_id varchar,
    team varchar,
    stage varchar,
    value double,
    value_at_risk double,
    scored_at timestamp not null
)
"""
SCORES_COLUMNS = (
    "target",
    "entity_id",
    "account_id",
    "as_of",
    "probability",
    "band",
    "percentile",
    "base_probability",
    "model_version",
    "reasons",
    "segment",
    "owner_rep_id",
    "team",
    "stage",
    "value",
    "value_at_risk",
    "scored_at",
)


def to_table_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """The job's output in the `scores` table's column order (entity id under `entity_id`)."""
    target = str(scored["target"].iloc[0]) if len(scored) else "churn"
    rows = scored.rename(columns={ID_COLUMNS[target]: "entity_id"})
    if target == "churn":
        rows = rows.assign(account_id=rows["entity_id"])
    rows = rows.reindex(columns=list(SCORES_COLUMNS))
    for column in ("entity_id", "account_id", "segment", "owner_rep_id", "team", "stage"):
        rows[column] = rows[column].astype(object).where(rows[column].notna(), None)
    return rows


def append_scores(con: duckdb.DuckDBPyConnection, scored: pd.DataFrame) -> int:
    """Add one scoring run; an earlier run of the same target and as-of is replaced. Atomic."""
    rows = to_table_rows(scored)
    con.execute(SCORES_DDL)
    con.execute("begin transaction")
    try:
        for target, as_of in rows[["target", "as_of"]].drop_duplicates().itertuples(index=False):
            con.execute(
                f"delete from {SCORES_TABLE} where target = ? and as_of = ?", [target, as_of]
            )
        con.register("_new_scores", rows)
        columns = ", ".join(SCORES_COLUMNS)
        con.execute(f"insert into {SCORES_TABLE} ({columns}) select {columns} from _new_scores")
        con.unregister("_new_scores")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(rows)


def latest_scores(con: duckdb.DuckDBPyConnection, target: str) -> pd.DataFrame:
    """Each entity's latest score with the previous one beside it (`previous_*` columns).

    Only entities scored in the latest run of `target` are returned (an account that churned or a
    deal that closed drops out of the worklist).
    """
    if not table_exists(con, SCORES_TABLE):
        return pd.DataFrame(columns=[*SCORES_COLUMNS, *PREVIOUS_COLUMNS])
    return con.execute(LATEST_SQL, [target]).df()


PREVIOUS_COLUMNS = (
    "previous_as_of",
    "previous_probability",
    "previous_reasons",
    "previous_model_version",
)
LATEST_SQL = f"""
with ranked as (
    select *, row_number() over (partition by entity_id order by as_of desc) as rn
    from {SCORES_TABLE} where target = ?
), latest_run as (select max(as_of) as as_of from ranked)
select cur.* exclude (rn),
       prev.as_of as previous_as_of, prev.probability as previous_probability,
       prev.reasons as previous_reasons, prev.model_version as previous_model_version
from ranked cur
join latest_run on cur.as_of = latest_run.as_of
left join ranked prev on prev.entity_id = cur.entity_id and prev.rn = 2
where cur.rn = 1
order by cur.entity_id
"""


def score_history(con: duckdb.DuckDBPyConnection, target: str, entity_id: str) -> pd.DataFrame:
    """Every stored score of one entity, oldest first."""
    if not table_exists(con, SCORES_TABLE):
        return pd.DataFrame(columns=list(SCORES_COLUMNS))
    return con.execute(
        f"select * from {SCORES_TABLE} where target = ? and entity_id = ? order by as_of",
        [target, entity_id],
    ).df()
