"""Security: every OpenAPI route × every role against a declared matrix, no secret in any log or
error, person-level data only for managers, and bad API input never answered with a 5xx.

The app is built the way tests/serving builds it (its seeded workspace and synthetic champions).
"""

from __future__ import annotations

import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from barometer.model.store import LoadedModel, StaticProvider
from barometer.settings import Settings
from serving.app import ServeOptions, create_app
from serving.auth import hash_key, load_keyring
from serving.observability import configure_logging
from tests.dashboard.conftest import post_form
from tests.serving.conftest import KEYS, build_workspace, champion_models, keyed_settings

BAD_KEY = "not-a-key-but-long-enough-0000"
ROLES = {
    "none": {},
    "bad_key": {"X-API-Key": BAD_KEY},
    "retention": {"X-API-Key": KEYS["retention"]},
    "manager": {"Authorization": f"Bearer {KEYS['manager']}"},
    "admin": {"X-API-Key": KEYS["admin"]},
}
RANK = {"none": 0, "bad_key": 0, "retention": 1, "manager": 2, "admin": 3}
# The declared policy: the lowest role each route admits (0 = public). A new route fails the walk
# until it is declared here, so nobody adds an endpoint without deciding who may call it.
MINIMUM = {
    ("GET", "/healthz"): 0,
    ("GET", "/readyz"): 0,
    ("GET", "/metrics"): 1,
    ("GET", "/v1/accounts"): 1,
    ("GET", "/v1/accounts/{account_id}/churn-risk"): 1,
    ("GET", "/v1/accounts/{account_id}/actions"): 1,
    ("GET", "/v1/opportunities/{opportunity_id}/actions"): 1,
    ("GET", "/v1/opportunities"): 1,
    ("GET", "/v1/opportunities/{opportunity_id}/win-probability"): 1,
    ("POST", "/v1/score/{target}"): 1,
    ("POST", "/v1/what-if"): 1,
    ("GET", "/v1/models"): 1,
    ("GET", "/v1/drivers/{target}"): 2,
    ("GET", "/v1/reps/{rep_id}/profile"): 2,
    ("GET", "/v1/reps/{rep_id}/attrition"): 2,
    ("GET", "/v1/teams/{team}/reps"): 2,
    ("GET", "/v1/teams/{team}/training-needs"): 2,
    ("GET", "/v1/teams/{team}/attrition"): 2,
    ("GET", "/v1/reports/contribution"): 2,
    ("GET", "/v1/reports/pipeline"): 2,
    ("POST", "/v1/models/reload"): 3,
}
PATH_VALUES = {
    "account_id": "A001",
    "opportunity_id": "O001",
    "target": "churn",
    "rep_id": "r1",
    "team": "sales",
}
BODIES = {
    "/v1/score/{target}": {"rows": [{"id": "A001", "days_since_last_touch": 3.0}]},
    "/v1/what-if": {"target": "churn", "entity_id": "A001", "changes": {"open_cases": 0}},
}


@pytest.fixture(scope="module")
def models() -> dict[str, LoadedModel]:
    return champion_models()


@pytest.fixture(scope="module")
def settings_keys(tmp_path_factory, models) -> Settings:
    home = tmp_path_factory.mktemp("security") / "workspace"
    build_workspace(home, models)
    return keyed_settings(home)


@pytest.fixture(scope="module")
def log_stream():
    """Everything the service logs (JSON lines, as `barometer serve` writes them)."""
    stream = io.StringIO()
    service = configure_logging("DEBUG", stream=stream)
    everything = logging.StreamHandler(stream)  # and any other library's records
    everything.addFilter(lambda r: not r.name.startswith("httpx"))  # the test's own client
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(everything)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(everything)
    root.setLevel(old_level)
    service.handlers, service.propagate = [], True


@pytest.fixture(scope="module")
def client(settings_keys, models, log_stream):
    options = ServeOptions(poll_seconds=3600)
    app = create_app(settings_keys, provider=StaticProvider(models), options=options)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.get("/readyz")
        yield test_client


def spec_operations(client) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json", headers=ROLES["admin"]).json()
    return sorted(
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )


def call(client, method: str, path: str, headers: dict):
    url = path.format(**PATH_VALUES)
    if method == "GET":
        return client.get(url, headers=headers)
    return client.request(method, url, headers=headers, json=BODIES.get(path, {}))


def test_every_route_in_the_spec_is_declared(client):
    assert set(spec_operations(client)) == set(MINIMUM)


@pytest.mark.parametrize("role", list(ROLES))
def test_role_matrix_on_every_route(client, role):
    wrong = []
    for method, path in spec_operations(client):
        response = call(client, method, path, ROLES[role])
        need, have = MINIMUM[(method, path)], RANK[role]
        if response.status_code >= 500 and response.status_code != 503:
            wrong.append((method, path, response.status_code, "server error"))
        elif need > 0 and have == 0 and response.status_code != 401:
            wrong.append((method, path, response.status_code, "expected 401"))
        elif need > 0 and 0 < have < need and response.status_code != 403:
            wrong.append((method, path, response.status_code, "expected 403"))
        elif have >= need and response.status_code in (401, 403):
            wrong.append((method, path, response.status_code, "refused an allowed role"))
    assert not wrong, wrong


def test_allowed_calls_succeed_for_the_lowest_role(client):
    """Not only 'not refused': the lowest admitted role gets a 2xx on every route."""
    codes = {}
    for (method, path), need in MINIMUM.items():
        role = {0: "none", 1: "retention", 2: "manager", 3: "admin"}[need]
        codes[(method, path)] = call(client, method, path, ROLES[role]).status_code
    assert all(200 <= c < 300 for c in codes.values()), codes


def test_several_keys_per_role_and_rotation(tmp_path):
    """Two retention keys both work (rotation); a removed key stops working at the next load."""
    old, new = "retention-old-0123456789", "retention-new-0123456789"
    ring = load_keyring(f"retention:{old},retention:{new},admin:{KEYS['admin']}", None)
    assert ring.role_of(old) == ring.role_of(new) and ring.role_of(old) is not None
    rotated = load_keyring(f"retention:{new}", None)
    assert rotated.role_of(old) is None and rotated.role_of(new) is not None
    stored = repr(ring.entries)
    assert old not in stored and hash_key(old) in [d for d, _ in ring.entries]


BAD_INPUTS = [
    ("POST", "/v1/score/churn", b'{"rows": [{"id": "A001",', "application/json"),
    ("POST", "/v1/score/churn", b"\xff\xfe not json", "application/json"),
    ("POST", "/v1/score/churn", b'{"rows": "not a list"}', "application/json"),
    ("POST", "/v1/score/churn", b'{"rows": [{"days_since_last_touch": "soon"}]}', None),
    ("POST", "/v1/score/churn", b'{"rows": [], "top_k": -1}', None),
    ("POST", "/v1/score/churn", b"[]", None),
    ("POST", "/v1/score/churn", b"null", None),
    ("POST", "/v1/score/nonsense", b'{"rows": [{}]}', None),
    ("POST", "/v1/what-if", b'{"target": "churn", "entity_id": 5, "changes": {}}', None),
    ("POST", "/v1/what-if", b'{"target": "x", "entity_id": "A001", "changes": {"a": 1}}', None),
    ("POST", "/v1/what-if", b'{"target": "churn", "entity_id": "A001", "changes": {"z": 1}}', None),
    (
        "POST",
        "/v1/what-if",
        b'{"target":"churn","entity_id":"A001","changes":{"open_cases":[1]}}',
        None,
    ),
    ("POST", "/v1/score/churn", b'{"rows": [{"segment": {"$gt": ""}}]}', None),
    ("POST", "/v1/score/churn", b"{" * 5000 + b"}" * 5000, None),
]
ODD_IDS = ["..%2F..%2Fetc%2Fpasswd", "..", "%2e%2e", "A001%00", "😀", "ä" * 300, "' or 1=1 --"]


@pytest.mark.parametrize(("method", "path", "body", "ctype"), BAD_INPUTS)
def test_bad_bodies_are_4xx_never_5xx(client, method, path, body, ctype):
    headers = {**ROLES["admin"], "Content-Type": ctype or "application/json"}
    response = client.request(method, path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


NON_FINITE = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"]


@pytest.mark.parametrize("number", NON_FINITE)
def test_non_finite_numbers_are_refused_naming_the_field(client, number):
    """Python's JSON reads NaN, Infinity and 1e999 (as inf). Ingestion refuses them, so does the
    API: a 422 naming the row and field, for a batch row and for a what-if change alike."""
    headers = {**ROLES["admin"], "Content-Type": "application/json"}
    batch = b'{"rows": [{"open_cases": 1}, {"days_since_last_touch": ' + number + b"}]}"
    response = client.post("/v1/score/churn", content=batch, headers=headers)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "rows", 1, "days_since_last_touch"] and "finite" in error["msg"]
    change = b'{"target": "churn", "entity_id": "A001", "changes": {"open_cases": ' + number + b"}}"
    response = client.post("/v1/what-if", content=change, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "changes", "open_cases"]


SCHEMA_REFUSALS = [
    ({"segment": 5}, "a category"),  # a number for a categorical feature
    ({"segment": True}, "a category"),
    ({"segment": "galactic"}, "Unknown category"),
    ({"open_cases": "3"}, "Expected a number"),  # text for a numeric feature
    ({"open_cases": 10**400}, "finite"),  # an integer no float can hold
]


@pytest.mark.parametrize(("change", "message"), SCHEMA_REFUSALS)
def test_feature_types_and_categories_come_from_the_models_schema(client, change, message):
    (name,) = change
    for path, body, loc in (
        ("/v1/score/churn", {"rows": [change]}, ["body", "rows", 0, name]),
        ("/v1/what-if", {"target": "churn", "entity_id": "A001", "changes": change}, None),
    ):
        response = client.post(path, json=body, headers=ROLES["admin"])
        assert response.status_code == 422, (path, response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == (loc or ["body", "changes", name]) and message in error["msg"]


def test_values_the_schema_admits_are_scored(client):
    rows = [{"open_cases": True, "segment": "smb"}, {"open_cases": None, "segment": None}, {}]
    response = client.post("/v1/score/churn", json={"rows": rows}, headers=ROLES["admin"])
    assert response.status_code == 200, response.text
    assert all(0 < r["probability"] < 1 for r in response.json()["results"])


def test_huge_batches_are_refused_not_crashed(client):
    rows = [{"id": f"A{i}", "days_since_last_touch": 1.0} for i in range(1001)]
    assert (
        client.post("/v1/score/churn", json={"rows": rows}, headers=ROLES["admin"]).status_code
        == 422
    )
    body = b'{"rows": [' + b'{"open_cases": 1.0},' * 200_000 + b'{"open_cases": 1.0}]}'
    response = client.post("/v1/score/churn", content=body, headers=ROLES["admin"])
    assert response.status_code == 413, response.status_code


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_in_paths_are_404_or_422(client, odd):
    for template in (
        "/v1/accounts/{}/churn-risk",
        "/v1/opportunities/{}/win-probability",
        "/v1/reps/{}/profile",
        "/v1/teams/{}/training-needs",
        "/v1/teams/{}/reps",
        "/v1/drivers/{}",
    ):
        response = client.get(template.format(odd), headers=ROLES["admin"])
        assert response.status_code in (404, 422), (template, odd, response.status_code)


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_in_bodies_never_5xx(client, odd):
    what_if = {"target": "churn", "entity_id": odd, "changes": {"open_cases": 0}}
    assert client.post("/v1/what-if", json=what_if, headers=ROLES["admin"]).status_code in (
        404,
        422,
    )
    batch = {"rows": [{"id": odd, "open_cases": 1.0}]}
    response = client.post("/v1/score/churn", json=batch, headers=ROLES["admin"])
    assert response.status_code == 200 and response.json()["results"][0]["id"] == odd


def test_no_key_appears_in_logs_or_error_bodies(client, log_stream):
    """Keys sent in headers (valid, unknown, in a query string) never reach logs or responses."""
    bodies = []
    for headers in ROLES.values():
        for method, path in spec_operations(client):
            bodies.append(call(client, method, path, headers).text)
    # A key misplaced in the URL may be echoed back to its own sender in a 422, never logged.
    leaky = f"/v1/accounts?api_key={KEYS['admin']}&cursor={KEYS['manager']}"
    assert client.get(leaky, headers=ROLES["admin"]).status_code < 500
    bodies.append(client.get("/v1/accounts/A001/churn-risk", headers={"X-API-Key": "x" * 5}).text)
    logs = log_stream.getvalue()
    assert logs.count("\n") > 50  # the access log really was captured
    for secret in [*KEYS.values(), BAD_KEY]:
        assert secret not in logs, f"a key reached the logs: {secret[:6]}..."
        assert not any(secret in b for b in bodies), f"a key echoed in a response: {secret[:6]}"
        assert hash_key(secret).hex() not in logs


def test_refusal_bodies_are_json_with_a_reason(client):
    for role, code in (("none", 401), ("bad_key", 401), ("retention", 403)):
        response = client.get("/v1/reports/contribution", headers=ROLES[role])
        assert response.status_code == code
        assert "role" in json.loads(response.text)["detail"] or "key" in response.text


# --- dashboard pages (not in the OpenAPI spec): the same walk over the app's own routes ----------

PAGE_MINIMUM = {
    ("GET", "/dashboard/worklist"): 1,
    ("GET", "/dashboard/worklist.csv"): 1,
    ("GET", "/dashboard/accounts/{account_id}"): 1,
    ("POST", "/dashboard/accounts/{account_id}/what-if"): 1,
    ("POST", "/dashboard/opportunities/{opportunity_id}/what-if"): 1,
    ("GET", "/dashboard/opportunities"): 1,
    ("GET", "/dashboard/opportunities/{opportunity_id}"): 1,
    ("GET", "/dashboard/models"): 1,
    ("GET", "/dashboard/openapi.json"): 1,
    ("GET", "/dashboard/docs"): 1,
    ("GET", "/dashboard/redoc"): 1,
    ("GET", "/dashboard/drivers"): 2,
    ("GET", "/dashboard/teams"): 2,
    ("GET", "/dashboard/teams/{team}"): 2,
    ("GET", "/dashboard/teams/{team}/attrition"): 2,
    ("GET", "/dashboard/reps/{rep_id}"): 2,
    ("GET", "/dashboard/contribution"): 2,
    ("GET", "/dashboard/pipeline"): 2,
}
OPEN_PAGES = {
    ("GET", "/dashboard"),
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("POST", "/dashboard/logout"),
}


def page_routes(client) -> list[tuple[str, str]]:
    """The dashboard router's (method, path) pairs, when this app mounts the dashboard."""
    from fastapi.routing import APIRoute

    from serving.dashboard.pages import page_routers

    if not any(getattr(r, "path", "") == "/dashboard/static" for r in client.app.routes):
        return []
    return sorted(
        (method, route.path)
        for router in page_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method in {"GET", "POST"}
    )


def sign_in(client, role: str) -> None:
    """Swap the client's cookies for `role`'s dashboard session (none for `none`/`bad_key`)."""
    client.cookies.clear()
    if role in ("none", "bad_key"):
        return
    fields = {"key": KEYS[role]}
    response = post_form(client, "/dashboard/login", fields, token_from="/dashboard/login")
    assert response.status_code == 303, response.status_code


def to_sign_in(response) -> bool:
    """A 401, or a 303 to the sign-in form."""
    location = response.headers.get("location", "")
    return response.status_code == 401 or (response.status_code == 303 and "login" in location)


def test_every_dashboard_page_is_declared(client):
    routes = set(page_routes(client))
    assert routes, "create_app no longer mounts the dashboard"
    assert routes == set(PAGE_MINIMUM) | OPEN_PAGES


@pytest.mark.parametrize("role", ["none", "retention", "manager", "admin"])
def test_role_matrix_on_every_dashboard_page(client, role):
    assert page_routes(client), "create_app no longer mounts the dashboard"
    sign_in(client, role)
    wrong = []
    try:
        for (method, path), need in PAGE_MINIMUM.items():
            url = path.format(**PATH_VALUES)
            if method == "POST" and RANK[role] > 0:
                response = post_form(client, url, {"change:open_cases": "0"})
            else:
                response = client.request(method, url, follow_redirects=False)
            have, code = RANK[role], response.status_code
            if code >= 500:
                wrong.append((path, code, "server error"))
            elif have == 0 and not to_sign_in(response):
                wrong.append((path, code, "anonymous not sent to sign in"))
            elif 0 < have < need and code != 403:
                wrong.append((path, code, "expected 403"))
            elif have >= need and code in (401, 403, 303):
                wrong.append((path, code, "refused an allowed role"))
    finally:
        client.cookies.clear()
    assert not wrong, wrong


# --- keys, observability, headers, body limit ----------------------------------------------------


def test_no_api_key_configured_means_no_service(tmp_path, models):
    """With zero keys nothing could be authorised (and sessions were signed with a public
    constant): the app refuses to be built, with a message saying what to set."""
    settings = Settings(home=tmp_path / "w")
    with pytest.raises(ValueError, match="No API keys are configured") as refused:
        create_app(settings, provider=StaticProvider(models), options=ServeOptions())
    assert "BAROMETER_API_KEYS" in str(refused.value) and "--insecure-demo" in str(refused.value)


def test_metrics_need_a_key_and_readyz_shows_no_paths(tmp_path, models):
    settings = keyed_settings(tmp_path / "w")  # no champion in this MLflow store
    app = create_app(settings, options=ServeOptions(poll_seconds=3600, dashboard=False))
    with TestClient(app) as fresh:
        ready = fresh.get("/readyz")
        assert ready.status_code == 503 and set(ready.json()["missing"]) == {"churn", "deal_win"}
        for shown in (str(tmp_path), "mlflow.db", "sqlite"):
            assert shown not in ready.text
        assert fresh.get("/metrics").status_code == 401
        scraped = fresh.get("/metrics", headers={"Authorization": f"Bearer {KEYS['retention']}"})
        assert scraped.status_code == 200 and "barometer_http_requests_total" in scraped.text
        refused = fresh.post("/v1/score/churn", json={"rows": [{}]}, headers=ROLES["retention"])
        assert refused.status_code == 503 and "No champion" in refused.json()["detail"]  # keyed


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def test_security_headers_on_every_kind_of_response(client):
    sign_in(client, "retention")
    admin = ROLES["admin"]
    try:
        responses = {
            "stored churn-risk (fast path)": client.get(
                "/v1/accounts/A001/churn-risk", headers=admin
            ),
            "live churn-risk": client.get("/v1/accounts/A001/churn-risk?live=true", headers=admin),
            "worklist": client.get("/v1/accounts", headers=admin),
            "401": client.get("/v1/accounts"),
            "404": client.get("/v1/accounts/NOPE/churn-risk", headers=admin),
            "422": client.post("/v1/score/churn", json={"rows": []}, headers=admin),
            "unmatched": client.get("/nowhere"),
            "healthz": client.get("/healthz"),
            "docs": client.get("/dashboard/docs"),
            "dashboard page": client.get("/dashboard/worklist"),
            "dashboard csv": client.get("/dashboard/worklist.csv"),
            "dashboard css": client.get("/dashboard/static/dashboard.css"),
        }
    finally:
        client.cookies.clear()
    responses["sign-in form"] = client.get("/dashboard/login")
    for name, response in responses.items():
        assert response.status_code < 500, name
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (name, header)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp, name
    assert "script-src" not in responses["dashboard page"].headers["content-security-policy"]
    assert "style-src 'self';" in responses["dashboard page"].headers["content-security-policy"]
    assert responses["dashboard page"].headers["cache-control"] == "no-store"
    assert "cache-control" not in responses["dashboard css"].headers
    assert "cdn.jsdelivr.net" in responses["docs"].headers["content-security-policy"]


def test_chunked_body_over_the_limit_is_413(settings_keys, models):
    """A body without Content-Length (chunked) is counted as it arrives: 413, not a parse error."""
    options = ServeOptions(poll_seconds=3600, max_body_bytes=2000, dashboard=False)
    app = create_app(settings_keys, provider=StaticProvider(models), options=options)

    def chunks(n: int):
        yield b'{"rows": ['
        for _ in range(n):
            yield b'{"open_cases": 1.0},'
        yield b'{"open_cases": 1.0}]}'

    with TestClient(app) as small:
        headers = {**ROLES["admin"], "Content-Type": "application/json"}
        response = small.post("/v1/score/churn", content=chunks(500), headers=headers)
        assert response.status_code == 413 and "2000-byte limit" in response.json()["detail"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert small.post("/v1/score/churn", content=chunks(3), headers=headers).status_code == 200


def test_the_api_description_needs_a_key_and_its_pages_a_session(client):
    """`/openapi.json` names every route: a key reads it. Browsers cannot send keys, so `/docs`
    and `/redoc` lead to the dashboard's copies, which need a signed-in session."""
    client.cookies.clear()
    for role in ("none", "bad_key"):
        refused = client.get("/openapi.json", headers=ROLES[role])
        assert refused.status_code == 401, role
        assert "/v1/" not in refused.text
    spec = client.get("/openapi.json", headers=ROLES["retention"])
    assert (
        spec.status_code == 200 and "/v1/accounts/{account_id}/churn-risk" in spec.json()["paths"]
    )
    for page in ("docs", "redoc"):
        moved = client.get(f"/{page}", follow_redirects=False)
        assert (moved.status_code, moved.headers["location"]) == (307, f"/dashboard/{page}")
        for path in (f"/dashboard/{page}", "/dashboard/openapi.json"):
            assert to_sign_in(client.get(path, follow_redirects=False)), path
    sign_in(client, "retention")
    try:
        for page in ("docs", "redoc"):
            shown = client.get(f"/dashboard/{page}")
            assert shown.status_code == 200 and "/dashboard/openapi.json" in shown.text
            assert shown.headers["cache-control"] == "no-store"
        assert client.get("/dashboard/openapi.json").json()["paths"] == spec.json()["paths"]
    finally:
        client.cookies.clear()
