"""The declarative feature registry: every feature declared once, with the words a manager reads.

The registry drives computation (`features.engine`), documentation (`barometer features --list`)
and explanations (`explain.reasons` turns a feature's description into a sentence).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Entity = Literal["account", "opportunity", "rep"]
Family = Literal[
    "cadence",
    "conversation_depth",
    "reach",
    "responsiveness",
    "timing",
    "intent",
    "service_quality",
    "customer_voice",
    "pipeline",
    "rep_context",
    "account_context",
]
Kind = Literal["numeric", "categorical", "bool"]

FAMILY_LABELS: dict[str, str] = {
    "cadence": "Cadence and silence",
    "conversation_depth": "Conversation depth",
    "reach": "Reach and multi-threading",
    "responsiveness": "Responsiveness and follow-up",
    "timing": "Timing",
    "intent": "Intent",
    "service_quality": "Service quality",
    "customer_voice": "Customer voice",
    "pipeline": "Pipeline and stage",
    "rep_context": "Rep context",
    "account_context": "Account context",
}


@dataclass(frozen=True)
class Feature:
    """One behavioural feature.

    `description` is the plain-words sentence a manager reads, e.g.
    "Share of connected calls over 10 minutes, last 90 days". `actionable` marks behaviours a rep
    controls (what-if suggestions are limited to these). `unit` helps phrasing ("days", "calls").
    `expr` is the engine's definition (see `features.engine`); `tables` are the contract tables it
    needs, so a missing table switches the feature off with a message.
    """

    name: str
    entity: Entity
    family: Family
    description: str
    window_days: int | None
    kind: Kind = "numeric"
    actionable: bool = False
    unit: str = ""
    tables: tuple[str, ...] = ("activities",)
    expr: Callable[..., Any] | None = None
