"""Schemathesis over every operation with every role: never a 5xx, always the documented schema.

CI runs a few examples per operation and role; `make fuzz` raises the budget through
`BAROMETER_FUZZ_EXAMPLES` (see tests/reliability/helpers.py). The app is built as tests/serving
builds it.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from barometer.model.store import StaticProvider
from serving.app import ServeOptions, create_app
from tests.reliability.helpers import budget, tally_printer
from tests.serving.conftest import KEYS, build_workspace, champion_models, keyed_settings

# Opaque cursors and free-form feature rows are schema-valid yet refused with a field-level 422.
SEMANTIC = schemathesis.checks.positive_data_acceptance
ROLE_HEADERS = {
    "none": {},
    "retention": {"X-API-Key": KEYS["retention"]},
    "manager": {"X-API-Key": KEYS["manager"]},
    "admin": {"X-API-Key": KEYS["admin"]},
}
TALLY = {"requests": 0}
tally = tally_printer(lambda: f"schemathesis requests: {TALLY['requests']}")


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    models = champion_models()
    home = tmp_path_factory.mktemp("apifuzz") / "workspace"
    build_workspace(home, models)
    app = create_app(
        keyed_settings(home),
        provider=StaticProvider(models),
        options=ServeOptions(poll_seconds=3600),
    )
    with TestClient(app):
        yield schemathesis.openapi.from_asgi(
            "/openapi.json", app, headers=ROLE_HEADERS["retention"]
        )


@pytest.mark.parametrize("role", list(ROLE_HEADERS))
def test_every_operation_with_every_role_never_5xx(schema, role, record_property):
    checked, before = [], TALLY["requests"]
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=budget(4),
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            TALLY["requests"] += 1
            case.call_and_validate(headers=ROLE_HEADERS[role], excluded_checks=[SEMANTIC])

        run()
        checked.append(operation.label)
    assert len(checked) >= 15
    sent = TALLY["requests"] - before
    record_property(
        "summary", f"schemathesis fuzz, {role}: {sent} requests over {len(checked)} operations"
    )
