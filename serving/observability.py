"""Structured JSON logs with a request id, Prometheus metrics, the request body size limit, and the
security headers (`serving.security`) on every response.

One pure ASGI middleware does all four (cheaper than stacked `BaseHTTPMiddleware`s). It never logs
headers, query strings or bodies, so API keys cannot reach the logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException

from serving.security import headers_for

LOGGER = "barometer.serving"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
PROBABILITY_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
TOP_DRIFT_FEATURES = 10  # features per target with a drift gauge
FEATURE_STATUSES = ("ok", "warn", "alert", "broken")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        reserved = self.RESERVED
        data.update({k: v for k, v in vars(record).items() if k not in reserved})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. `2026-11-23T05:14:08.123+00:00`."""
    milliseconds = int(created % 1 * 1000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(created))}.{milliseconds:03d}+00:00"


def configure_logging(level: str = "INFO", stream=None) -> logging.Logger:
    """JSON lines for the service logger (idempotent)."""
    logger = logging.getLogger(LOGGER)
    logger.handlers = [logging.StreamHandler(stream or sys.stderr)]
    logger.handlers[0].setFormatter(JsonFormatter())
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._register_service_metrics()
        self._register_monitoring_gauges()
        self._children: dict[tuple[str, str, int], tuple] = {}

    def _register_service_metrics(self) -> None:
        """Requests and their latency, the probabilities served, and the loaded models."""
        self.requests = Counter(
            "barometer_http_requests",
            "HTTP requests.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "barometer_http_request_duration_seconds",
            "Request latency.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Histogram(
            "barometer_score_probability",
            "Distribution of probabilities served or computed.",
            ["target", "source"],
            buckets=PROBABILITY_BUCKETS,
            registry=self.registry,
        )
        self.model = Gauge(
            "barometer_model_info",
            "Loaded champion version (value 1).",
            ["target", "version"],
            registry=self.registry,
        )
        self.scored_entities = Gauge(
            "barometer_scored_entities",
            "Entities in the latest scoring run.",
            ["target"],
            registry=self.registry,
        )

    def _register_monitoring_gauges(self) -> None:
        """Model monitoring (`barometer monitor`): the latest day checked for each champion."""
        self.feature_drift = Gauge(
            "barometer_feature_drift_psi",
            f"PSI of a feature against the champion's reference ({TOP_DRIFT_FEATURES} features "
            "carrying most of its attributions).",
            ["target", "feature"],
            registry=self.registry,
        )
        self.features_flagged = Gauge(
            "barometer_features_flagged",
            "Features per drift status (ok, warn, alert, broken).",
            ["target", "status"],
            registry=self.registry,
        )
        self.score_drift = Gauge(
            "barometer_score_drift_psi",
            "PSI of the calibrated probabilities against the champion's test period.",
            ["target"],
            registry=self.registry,
        )
        self.realised_auc = Gauge(
            "barometer_realised_roc_auc",
            "ROC AUC of the latest served predictions whose outcomes have matured.",
            ["target"],
            registry=self.registry,
        )
        self.retrain_needed = Gauge(
            "barometer_retrain_needed",
            "1 when the champion needs retraining (its latest retrain signal), else 0.",
            ["target"],
            registry=self.registry,
        )
        self.pipeline_broken = Gauge(
            "barometer_pipeline_broken",
            "1 when a feature of the champion stopped arriving, else 0.",
            ["target"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency. Labels are bounded: the route template (never the
        raw path), a known method (else `other`) and the status code."""
        key = (method if method in METHODS else "other", route, status)
        children = self._children.get(key)
        if children is None:  # resolved once per label set: `labels()` costs more than `inc()`
            children = self._children[key] = (
                self.requests.labels(key[0], route, str(status)),
                self.latency.labels(key[0], route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def set_models(self, versions: dict[str, str]) -> None:
        self.model.clear()
        for target, version in versions.items():
            self.model.labels(target, version).set(1)

    def set_monitoring(self, views: dict[str, dict | None]) -> None:
        """The monitoring gauges from each champion's view (`serving.monitoring`). Label sets stay
        bounded: the two targets, the statuses, and each target's `TOP_DRIFT_FEATURES` features
        with the largest share of the model's attributions."""
        gauges = (self.feature_drift, self.features_flagged, self.score_drift, self.realised_auc)
        for gauge in (*gauges, self.retrain_needed, self.pipeline_broken):
            gauge.clear()
        for target, view in views.items():
            if view is None:
                continue
            features = sorted(view["features"], key=lambda f: -(f.get("importance") or 0.0))
            for feature in features[:TOP_DRIFT_FEATURES]:
                if feature.get("value") is not None:
                    self.feature_drift.labels(target, feature["subject"]).set(feature["value"])
            for status in FEATURE_STATUSES:
                count = sum(f["status"] == status for f in view["features"])
                self.features_flagged.labels(target, status).set(count)
            if view["score"] is not None and view["score"].get("value") is not None:
                self.score_drift.labels(target).set(view["score"]["value"])
            judged = [r for r in view["realised"] if r["status"] != "pending" and "roc_auc" in r]
            if judged and judged[-1]["roc_auc"].get("value") is not None:
                self.realised_auc.labels(target).set(judged[-1]["roc_auc"]["value"])
            signal = view["signal"]
            if signal is not None:
                self.retrain_needed.labels(target).set(float(signal["needs_retraining"]))
                self.pipeline_broken.labels(target).set(float(signal["pipeline_broken"]))


class BodyTooLarge(HTTPException):
    """The request body is over the limit: a 413, also when a chunked body grows past it while the
    app reads it (FastAPI passes an `HTTPException` raised by `receive` through unchanged)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))


def too_large_detail(limit: int) -> str:
    return f"Request body is larger than the {limit}-byte limit."


class ObservabilityMiddleware:
    """Request id, JSON access log, metrics and body size limit for every HTTP request."""

    def __init__(self, app, metrics: Metrics, max_body_bytes: int, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes
        self.access_log = access_log
        self.logger = logging.getLogger(LOGGER)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client_id, length = scan_headers(scope)
        request_id = client_id or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = {"code": 500, "started": False}
        secure = headers_for(scope["path"])

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(secure)
                message = {**message, "headers": headers}
            await send(message)

        try:
            if length > self.max_body:
                raise BodyTooLarge(self.max_body)
            await self.app(scope, self.limited(receive), send_with_id)
        except BodyTooLarge:
            if not status["started"]:
                await too_large(send_with_id, self.max_body)
        finally:
            self.record(scope, status["code"], time.perf_counter() - started, request_id)

    def limited(self, receive):
        """`receive` that stops a body growing past the limit (for chunked uploads)."""
        seen = 0

        async def wrapped():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise BodyTooLarge(self.max_body)
            return message

        return wrapped

    def record(self, scope, status: int, seconds: float, request_id: str) -> None:
        route = route_label(scope)
        method = scope["method"]
        self.metrics.observe_request(method, route, status, seconds)
        logger = self.logger
        if self.access_log and logger.isEnabledFor(logging.INFO):
            fields = {
                "request_id": request_id,
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "role": scope.get("state", {}).get("role"),
            }
            sinks = json_sinks(logger)
            if sinks:
                write_line(sinks, access_line(time.time(), logger.name, fields))
                return
            # `logger.info` would first walk the stack for the caller's file and line (a third
            # of the cost of an access line); this record names the middleware instead.
            record = logger.makeRecord(
                logger.name, logging.INFO, __file__, 0, "request", (), None, "access", fields
            )
            logger.handle(record)


def access_line(created: float, name: str, fields: dict) -> str:
    """The line `JsonFormatter` would write for an access record, built without a LogRecord."""
    head = {"ts": timestamp(created), "level": "info", "logger": name, "msg": "request"}
    return json.dumps(head | fields, default=str)


def json_sinks(logger: logging.Logger) -> list[logging.StreamHandler]:
    """The logger's handlers when an access line can be written to them directly: the logger does
    not propagate and every handler is a plain `StreamHandler` with a `JsonFormatter`, no filters
    and a level admitting INFO (as `configure_logging` sets up). Otherwise [] (use `handle`)."""
    handlers = logger.handlers
    if logger.propagate or logger.filters or not handlers:
        return []
    for handler in handlers:
        if (
            type(handler) is not logging.StreamHandler
            or type(handler.formatter) is not JsonFormatter
            or handler.filters
            or handler.level > logging.INFO
        ):
            return []
    return handlers


def write_line(handlers: list[logging.StreamHandler], line: str) -> None:
    """`StreamHandler.emit` without the record: the line, a newline, a flush, under its lock."""
    for handler in handlers:
        with handler.lock:
            try:
                handler.stream.write(line + "\n")
                handler.flush()
            except Exception:  # noqa: BLE001 - logging must never break a request
                handler.handleError(logging.makeLogRecord({"msg": line}))


def route_label(scope) -> str:
    """The route template (`/v1/accounts/{account_id}/churn-risk`), never the raw path."""
    path = getattr(scope.get("route"), "path", None)
    if path is None:
        return "unmatched"
    # Routes included under the `/v1` router report their path without the prefix.
    return f"/v1{path}" if scope["path"].startswith("/v1/") and not path.startswith("/v1") else path


def scan_headers(scope) -> tuple[str | None, int]:
    """The client's `X-Request-ID` (when short and plain; otherwise we make our own) and the
    declared `Content-Length` (0 when absent or unreadable), in one pass over the headers."""
    request_id, length = None, 0
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            request_id = text if REQUEST_ID.match(text) else None
        elif name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = 0
    return request_id, length


async def too_large(send, limit: int) -> None:
    body = json.dumps({"detail": too_large_detail(limit)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
