"""What operators see from outside: `GET /metrics`, a request id on every request, an access log line.

`/metrics` is for Prometheus, not for people: with `PARLEY_METRICS_TOKEN` set it wants that bearer token
from anywhere; without one it answers only loopback and private addresses. Behind a proxy the client's
address is in `X-Forwarded-For`, so every address there must be private too (forging the header can only
make a request look *more* public, never less).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import secrets
import time

from flask import Blueprint, Flask, Response, g, jsonify, request

from console.services import services
from models.telemetry import logs
from models.telemetry.database import DatabaseCollector
from models.telemetry.metrics import CONTENT_TYPE, scrape

bp = Blueprint("observability", __name__)
access_log = logging.getLogger("parley.access")

# A request id from the client (or nginx's `$request_id`) is kept when it looks like an id, never echoed raw.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _refuse(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


# Loopback, RFC 1918 and IPv6 unique-local: spelled out, because `ipaddress.is_private` also says yes to
# documentation and benchmarking ranges, which are routed on the internet in practice.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"))


def _private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in PRIVATE_NETWORKS if net.version == ip.version)


def client_addresses() -> list[str]:
    forwarded = [a for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    real_ip = request.headers.get("X-Real-IP", "")
    return [request.remote_addr or "", *forwarded, *([real_ip] if real_ip.strip() else [])]


@bp.get("/metrics")
def metrics() -> Response:
    svc = services()
    token = svc.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return _refuse(401, "unauthorized", "GET /metrics needs 'Authorization: Bearer <PARLEY_METRICS_TOKEN>'.")
    elif not all(_private(a) for a in client_addresses()):
        return _refuse(403, "forbidden", "GET /metrics answers loopback and private addresses only "
                                         "(set PARLEY_METRICS_TOKEN to scrape from elsewhere).")
    return Response(scrape(DatabaseCollector(svc.db)), mimetype=None, content_type=CONTENT_TYPE)


def _begin() -> None:
    g.started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
    g.log_tokens = [logs.request_id.set(g.request_id)]
    public_id = (request.view_args or {}).get("public_id")
    if isinstance(public_id, str):  # an API view about one conversation
        g.log_tokens.append(logs.conversation_id.set(public_id))


def _finish(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
        elapsed_ms = (time.perf_counter() - g.started) * 1000
        access_log.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms,
                        extra={"method": request.method, "path": request.path, "status": response.status_code,
                               "duration_ms": round(elapsed_ms, 1), "remote_addr": request.remote_addr})
    return response


def _end(_exc: BaseException | None) -> None:
    # Reverse order: the conversation was set after the request id.
    for token in reversed(g.pop("log_tokens", [])):
        try:
            token.var.reset(token)
        except ValueError:  # torn down in another context (a streamed response): clear instead
            token.var.set(None)


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)
    app.register_blueprint(bp)
