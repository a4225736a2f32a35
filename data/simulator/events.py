"""Activity events as a dict of numpy arrays (one entry per column), and the touch generators.

Times are float days since the simulation start. Categorical columns hold codes into the
vocabularies below (-1 = null) until `tables` renders them.
"""

from __future__ import annotations

import numpy as np

from data.contract import ACTIVITY_TYPES

OUTCOME_WORDS = ("connected", "voicemail", "no_answer", "sent", "replied", "held", "completed")
OBJECTIVES = (
    "discovery",
    "follow_up",
    "demo",
    "negotiation",
    "support",
    "check_in",
    "upsell",
    "renewal",
    "qualification",
)
DIRECTION_WORDS = ("inbound", "outbound")
NULL = -1

Events = dict[str, np.ndarray]

DEFAULTS: dict[str, tuple[np.dtype, float]] = {
    "acc": (np.dtype(np.int64), NULL),
    "t": (np.dtype(np.float64), np.nan),
    "type": (np.dtype(np.int8), NULL),
    "rep": (np.dtype(np.int64), NULL),
    "contact": (np.dtype(np.int16), NULL),
    "direction": (np.dtype(np.int8), NULL),
    "duration": (np.dtype(np.float64), np.nan),
    "outcome": (np.dtype(np.int8), NULL),
    "dm": (np.dtype(np.int8), NULL),
    "objective": (np.dtype(np.int8), NULL),
    "rating": (np.dtype(np.float64), np.nan),
    "opp": (np.dtype(np.int64), NULL),
}


def code(vocab: tuple[str, ...], word: str) -> int:
    return vocab.index(word)


def make(acc: np.ndarray, t: np.ndarray, kind: str, **cols: np.ndarray | int | float) -> Events:
    """Events of one activity type; unspecified columns are null, scalars are broadcast."""
    n = len(acc)
    out: Events = {}
    for name, (dtype, null) in DEFAULTS.items():
        value = cols.get(name, null)
        out[name] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    out["acc"] = np.asarray(acc, dtype=np.int64)
    out["t"] = np.asarray(t, dtype=np.float64)
    out["type"][:] = code(ACTIVITY_TYPES, kind)
    return out


def concat(parts: list[Events]) -> Events:
    """Stack event batches; an empty list gives empty columns."""
    if not parts:
        return make(np.empty(0, np.int64), np.empty(0), "other")
    return {k: np.concatenate([p[k] for p in parts]) for k in DEFAULTS}


def select(ev: Events, mask: np.ndarray) -> Events:
    return {k: v[mask] for k, v in ev.items()}


def explode(entity: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`entity[i]` repeated `counts[i]` times: one row per event."""
    return np.repeat(entity, counts)


def working_hours(t: np.ndarray) -> np.ndarray:
    """Squeeze each time of day into 08:00-18:00 of the same day (order within a day kept)."""
    day = np.floor(t)
    return day + (8.0 + 10.0 * (t - day)) / 24.0


def thread_contact(rng: np.random.Generator, threads: np.ndarray) -> np.ndarray:
    """A contact among the `threads` non-decision-maker contacts in play (1..threads)."""
    return 1 + np.floor(rng.random(len(threads)) * threads).astype(np.int16)


def calls(
    rng: np.random.Generator,
    acc: np.ndarray,
    t: np.ndarray,
    rep: np.ndarray,
    *,
    p_connect: np.ndarray,
    p_dm: np.ndarray,
    minutes: np.ndarray,
    threads: np.ndarray,
    objective: str,
    opp: np.ndarray | int = NULL,
) -> Events:
    """Outbound calls: connected (long or short), voicemail or no answer; some reach the DM."""
    n = len(acc)
    connected = rng.random(n) < p_connect
    voicemail = ~connected & (rng.random(n) < 0.5)
    talk = minutes * 60.0 * rng.lognormal(-0.08, 0.4, n)
    duration = np.where(connected, talk, np.where(voicemail, rng.uniform(15, 60, n), 0.0))
    dm = connected & (rng.random(n) < p_dm)
    outcome = np.where(connected, 0, np.where(voicemail, 1, 2))
    return make(
        acc,
        t,
        "call",
        rep=rep,
        contact=np.where(dm, 0, thread_contact(rng, threads)),
        direction=code(DIRECTION_WORDS, "outbound"),
        duration=duration.round(),
        outcome=outcome,
        dm=dm,
        objective=code(OBJECTIVES, objective),
        opp=opp,
    )


def emails(
    rng: np.random.Generator,
    acc: np.ndarray,
    t: np.ndarray,
    rep: np.ndarray,
    *,
    threads: np.ndarray,
    objective: str,
    opp: np.ndarray | int = NULL,
) -> Events:
    """Outbound emails to a contact in play; about a third get a reply."""
    replied = rng.random(len(acc)) < 0.3
    return make(
        acc,
        t,
        "email",
        rep=rep,
        contact=thread_contact(rng, threads),
        direction=code(DIRECTION_WORDS, "outbound"),
        outcome=np.where(replied, code(OUTCOME_WORDS, "replied"), code(OUTCOME_WORDS, "sent")),
        objective=code(OBJECTIVES, objective),
        opp=opp,
    )


def meetings(
    rng: np.random.Generator,
    acc: np.ndarray,
    t: np.ndarray,
    rep: np.ndarray,
    *,
    p_dm: np.ndarray,
    threads: np.ndarray,
    satisfaction: np.ndarray,
    kind: str,
    objective: str,
    opp: np.ndarray | int = NULL,
) -> Events:
    """Meetings or demos (30-60 min, held); the DM attends some; a quarter get a rating."""
    n = len(acc)
    dm = rng.random(n) < p_dm
    rated = rng.random(n) < 0.25
    rating = np.clip(np.round(rng.normal(3.8 + 0.6 * satisfaction, 0.8)), 1, 5)
    return make(
        acc,
        t,
        kind,
        rep=rep,
        contact=np.where(dm, 0, thread_contact(rng, threads)),
        direction=code(DIRECTION_WORDS, "outbound"),
        duration=rng.uniform(30, 60, n).round() * 60,
        outcome=code(OUTCOME_WORDS, "held"),
        dm=dm,
        objective=code(OBJECTIVES, objective),
        rating=np.where(rated, rating, np.nan),
        opp=opp,
    )


def followups(
    rng: np.random.Generator, met: Events, mean_days: np.ndarray
) -> tuple[Events, np.ndarray]:
    """One follow-up email per meeting to the same contact, `Exp(mean_days)` later.

    Returns the emails and each meeting's delay in days.
    """
    delay = rng.exponential(mean_days)
    ev = make(
        met["acc"],
        met["t"] + delay,
        "email",
        rep=met["rep"],
        contact=met["contact"],
        direction=code(DIRECTION_WORDS, "outbound"),
        outcome=code(OUTCOME_WORDS, "sent"),
        objective=code(OBJECTIVES, "follow_up"),
        opp=met["opp"],
    )
    return ev, delay
