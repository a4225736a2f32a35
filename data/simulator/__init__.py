"""A seeded, vectorised CRM simulator whose deal and churn outcomes follow documented behaviour
effects (`TRUE_EFFECTS`), written as the canonical contract (see data/README.md)."""

from data.simulator.core import STAGE_ORDER, planted_reps, simulate, simulate_chunks
from data.simulator.effects import TRUE_EFFECTS, Effect, true_effects_records
from data.simulator.export import EFFECTS_FILE, PLANTED_FILE, write_export

__all__ = [
    "EFFECTS_FILE",
    "PLANTED_FILE",
    "STAGE_ORDER",
    "TRUE_EFFECTS",
    "Effect",
    "simulate",
    "simulate_chunks",
    "planted_reps",
    "true_effects_records",
    "write_export",
]
