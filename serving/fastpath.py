"""The churn-risk answers sent before routing: stored ones from their bytes, on-demand ones scored.

`GET /v1/accounts/{id}/churn-risk` with a valid key and no query string is the API's hottest
request, and its answer is fixed for a scoring run: the score snapshot holds every scored account's
body, built in bulk when the run is loaded (`serving.bodies`, validated by the `ChurnRisk` schema),
and the route sends the same bytes. This middleware sends them without FastAPI's routing,
dependency solving and response handling (two thirds of the request's cost). With the query string
exactly `live=true` it scores the account now with the route's own function
(`serving.service.live_body`), when the champion's rows are prepared and the account has one.

Everything else falls through unchanged to the routed app: no or unknown keys (401), other query
strings (other spellings of `live`, bad values → 422), ids the route would refuse (422), not scored
in the latest run or without a feature row (404), no model loaded (503), rows not prepared yet
(the route prepares them off the event loop). Inside `ObservabilityMiddleware`, so request ids,
access logs and metrics are the same; the role is recorded as `RoleCheck` records it, and the route
label is the route's own.
"""

from __future__ import annotations

from serving.auth import Role, key_from_headers
from serving.bodies import StoredBody
from serving.schemas.responses import ChurnRisk
from serving.service import live_body

PREFIX = "/v1/accounts/"
SUFFIX = "/churn-risk"
MAX_ID = 200  # the route's `Path(max_length=200)`
JSON_HEADERS = (b"content-type", b"application/json")
LIVE_QUERY = b"live=true"


def entity_from_path(path: str) -> str | None:
    """The account id of a churn-risk path the route would accept, else None."""
    if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
        return None
    entity = path[len(PREFIX) : -len(SUFFIX)]
    if not 0 < len(entity) <= MAX_ID or "/" in entity:
        return None
    return entity


class StoredScoreFastPath:
    """Pure ASGI middleware answering stored churn-risk requests (see the module doc)."""

    def __init__(self, app, state, route=None) -> None:
        self.app = app
        self.state = state  # the service's `ServiceState`: keyring, scores, metrics
        self.route = route  # the churn-risk APIRoute, for the metrics and log route label
        self.observe = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            query = scope["query_string"]
            if not query:
                found = self.lookup(scope)
                if found is not None:
                    self.observe_stored(found.probability)
                    await self.answer(scope, send, found.body)
                    return
            elif query == LIVE_QUERY:
                body = self.live(scope)
                if body is not None:
                    await self.answer(scope, send, body)
                    return
        await self.app(scope, receive, send)

    def lookup(self, scope) -> StoredBody | None:
        """The stored body when this request may be answered here (key known, account scored)."""
        entity = entity_from_path(scope["path"])
        if entity is None:
            return None
        snapshot = self.state.scores.current.get("churn")
        found = None if snapshot is None else snapshot.body(entity)
        if found is None or not self.admitted(scope):
            return None
        return found

    def live(self, scope) -> bytes | None:
        """The account scored now, when this request may be answered here."""
        entity = entity_from_path(scope["path"])
        if entity is None or not self.admitted(scope):
            return None
        state = self.state
        loaded = state.models.current.get("churn")  # the champion current on arrival
        if loaded is None or not state.live.ready(loaded, state.features):
            return None
        return live_body(state, loaded, "churn", entity, ChurnRisk)

    def admitted(self, scope) -> bool:
        """Whether the request's key has the route's role (recorded as `RoleCheck` does)."""
        role = self.state.keyring.role_of(api_key(scope["headers"]))
        if role is None or role < Role.retention:
            return False
        scope.setdefault("state", {})["role"] = role.name
        return True

    def observe_stored(self, probability: float) -> None:
        if self.observe is None:
            self.observe = self.state.metrics.scores.labels("churn", "stored").observe
        self.observe(probability)

    async def answer(self, scope, send, body: bytes) -> None:
        if self.route is not None:
            scope["route"] = self.route
        headers = [(b"content-length", b"%d" % len(body)), JSON_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def api_key(headers) -> str | None:
    """`serving.auth.key_from_headers` over raw ASGI headers (the first of each, as Starlette)."""
    x_api_key = authorization = None
    for name, value in headers:
        if name == b"x-api-key" and x_api_key is None:
            x_api_key = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    return key_from_headers(x_api_key, authorization)
