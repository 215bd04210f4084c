"""Webhook ingestion bench: signed Twilio webhooks at rising rates against a running `parley run`.

For each rate the client sends for `--duration` seconds on a fixed schedule (open loop: a slow answer
does not slow the sending down, and latency is measured from when a request was *due*, so queueing
counts). A step is sustained when at least 95% of the due requests were answered 200 within the step,
at most 1% failed, and the p99 acknowledgement is at most 250 ms. Rates rise until a step is not
sustained. The same is done against the same server's bare no-op endpoint (`POST /webhooks/noop`,
`PARLEY_BENCH_NOOP=1`: same process, framework and threads; no signature check, no database), and
the ratio of the two highest sustained rates is printed. The two are measured in turn at each rate, so
both see the same machine. Bot replies go out through the outbox to a local fake of Twilio's API
(tests/fakes), so the server does all of its real work meanwhile.

    python -m bench.webhooks                       # start Parley and the fake Twilio, measure
    python -m bench.webhooks --rates 25,50,100 --duration 3 --json

Exit status: 0 fine; 2 the server did not come up.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from typing import Any
from urllib.parse import urlencode, urlsplit

from twilio.request_validator import RequestValidator

from bench.servers import (
    ServerError,
    parley_program,
    parley_server,
    production_stack,
    servers_cpu_s,
    stack_urls,
    wait_until_idle,
)

STACKS = {"run": "parley run (one process, SQLite)",
          "prod": "production stack: parley web (gunicorn) + parley worker, PostgreSQL + Redis"}

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token"
NUMBER = "+15550009999"
TEXTS = ("where is my order", "what are your opening hours", "how long does shipping take", "hi")
P99_LIMIT_MS = 250.0
MIN_DELIVERED = 0.95
MAX_FAILED = 0.01
EXIT_OK, EXIT_SERVER = 0, 2


@dataclass(frozen=True)
class Step:
    target: str
    rate: float
    due: int
    ok: int
    failed: int
    errors: dict[str, int]
    achieved_rps: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    # How late the client itself started requests (p99 of start - due, ms): a step whose client lagged
    # measured the client (it shares the machine), not the server.
    client_lag_p99_ms: float | None = None
    idle_wait_s: float | None = None  # how long the servers took to go idle after the step (None: never did)
    attempt: int = 1
    # CPU of every server process (web, worker; not PostgreSQL or Redis) from the step's start until
    # they were idle again, per request sent: each webhook's bot turn, outbound send and pushes
    # included. Unlike the rates, a figure a loaded machine changes little.
    server_cpu_ms: float | None = None

    @property
    def sustained(self) -> bool:
        return (self.ok >= MIN_DELIVERED * self.due and self.failed <= MAX_FAILED * self.due
                and self.p99_ms is not None and self.p99_ms <= P99_LIMIT_MS)


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


class Client:
    """One keep-alive connection per client thread, over `http.client`: the client shares the machine
    with the server, and `requests` spends several times the CPU per request (its session merges
    settings, environment and proxies on every call) — enough, on two busy cores, to start requests
    hundreds of milliseconds after they were due. Twilio's signature made per request, as Twilio does."""

    def __init__(self, base: str) -> None:
        self.base = base
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.validator = RequestValidator(AUTH_TOKEN)
        self._local = threading.local()
        self._seq = 0
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it served a request before (it may have been closed
        by the server's keep-alive timeout since)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        with self._lock:
            self._connections.append(conn)
        return conn, False

    def close(self) -> None:
        """Close every connection opened so far (a step's threads end with it; their sockets would
        otherwise stay open until garbage-collected, idle keep-alive connections on the server)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()

    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()  # the server closed an idle keep-alive connection: it never read this request
                if not reused or attempt == 2:
                    raise
            except (http.client.HTTPException, OSError):
                conn.close()  # the next request on this thread opens a new connection
                raise
        raise AssertionError("unreachable")

    def post(self, target: str, customers: int) -> int:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        if target == "noop":
            return self._post("/webhooks/noop", b"n=0", form)
        n = self._next()  # the webhooks' own sequence: sender n % customers, so the senders take turns
        params = {"MessageSid": f"SM{n:032x}", "AccountSid": ACCOUNT_SID, "From": f"+1415555{n % customers:04d}",
                  "To": NUMBER, "Body": TEXTS[n % len(TEXTS)], "NumMedia": "0", "NumSegments": "1",
                  "ApiVersion": "2010-04-01"}
        signature = self.validator.compute_signature(f"{self.base}/webhooks/twilio", params)
        return self._post("/webhooks/twilio", urlencode(params).encode(), {**form, "X-Twilio-Signature": signature})


def run_step(client: Client, target: str, rate: float, duration: float, customers: int) -> Step:
    due = max(1, int(rate * duration))
    latencies: list[float] = []
    lags: list[float] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    deadline_holder: dict[str, float] = {"last": 0.0}

    def one(due_at: float) -> None:
        lag = time.perf_counter() - due_at
        try:
            status = client.post(target, customers)
            outcome = "ok" if status == 200 else f"http_{status}"
        except (http.client.HTTPException, OSError) as exc:
            outcome = type(exc).__name__
        done = time.perf_counter()
        with lock:
            lags.append(lag * 1000)
            if outcome == "ok" and done <= deadline_holder["end"]:
                latencies.append((done - due_at) * 1000)
                deadline_holder["last"] = max(deadline_holder["last"], done)
            elif outcome == "ok":
                errors["late"] += 1
            else:
                errors[outcome] += 1

    with ThreadPoolExecutor(max_workers=256, thread_name_prefix="bench-client") as pool:
        start = time.perf_counter() + 0.05
        deadline_holder["end"] = start + duration + 2.0  # answers later than 2 s after the step count as late
        for k in range(due):
            due_at = start + k / rate
            pause = due_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, due_at)
    client.close()
    elapsed = max(duration, deadline_holder["last"] - start)
    ok = len(latencies)
    ordered = sorted(latencies)
    return Step(target, rate, due, ok, due - ok, dict(errors), ok / elapsed, _pct(ordered, 0.5), _pct(ordered, 0.99),
                ordered[-1] if ordered else None, _pct(sorted(lags), 0.99))


def ramp(client: Client, rates: list[float], duration: float, customers: int, pause: float, attempts: int,
         idle: Callable[[], float | None] = lambda: 0.0, cpu: Callable[[], float] = lambda: 0.0) -> list[Step]:
    """Both targets at each rate in turn (so both see the same machine), each until it is not
    sustained `attempts` times running. After every step the servers are let go idle (`idle`): the
    bot turns and outbound sends of the webhooks it acknowledged are finished before the next step, so
    that no step — the no-op's least of all — is measured against the previous one's backlog, and the
    servers' CPU (`cpu`, seconds) from the step's start to then is the step's whole cost."""
    steps: list[Step] = []
    alive = ["webhook", "noop"]
    idle()
    for rate in rates:
        for target in list(alive):
            for attempt in range(1, attempts + 1):
                time.sleep(pause)
                before = cpu()
                step = run_step(client, target, rate, duration, customers)
                waited = idle()
                step = replace(step, idle_wait_s=waited, attempt=attempt,
                               server_cpu_ms=(cpu() - before) * 1000 / step.due)  # late ones too: all were worked
                steps.append(step)
                _log(f"{target} {rate:g}/s: ok {step.ok}/{step.due}, p99 {_fmt(step.p99_ms)} ms, client lag p99 "
                     f"{_fmt(step.client_lag_p99_ms)} ms, idle {_fmt(waited)} s after, server CPU "
                     f"{_fmt(step.server_cpu_ms, 2)} ms a request{'' if step.sustained else '  (not sustained)'}")
                if step.sustained:
                    break
            else:
                alive.remove(target)
        if not alive:
            break
    return sorted(steps, key=lambda s: (s.target != "webhook", s.rate, s.attempt))


def best(steps: list[Step]) -> float | None:
    sustained = [s.rate for s in steps if s.sustained]
    return max(sustained) if sustained else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(steps: list[Step], figures: dict[str, Any]) -> str:
    lines = [f"webhooks: signed Twilio webhooks, open loop, {figures['duration_s']:g} s per step, "
             f"sustained = ≥{MIN_DELIVERED:.0%} answered, ≤{MAX_FAILED:.0%} failed, p99 ≤ {P99_LIMIT_MS:g} ms; "
             f"{os.cpu_count()} CPUs",
             f"{'target':<9}{'rate/s':>8}{'due':>7}{'ok':>7}{'failed':>8}{'got/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
             f"{'max ms':>9}{'lag p99':>9}{'idle s':>8}{'CPU ms':>8}  sustained"]
    for s in steps:
        lines.append(f"{s.target:<9}{s.rate:>8g}{s.due:>7}{s.ok:>7}{s.failed:>8}{s.achieved_rps:>9.1f}"
                     f"{_fmt(s.p50_ms):>9}{_fmt(s.p99_ms):>9}{_fmt(s.max_ms):>9}{_fmt(s.client_lag_p99_ms):>9}"
                     f"{_fmt(s.idle_wait_s):>8}{_fmt(s.server_cpu_ms, 2):>8}  {'yes' if s.sustained else 'no'}")
    capped = [t for t, c in figures["capped_by_rate_list"].items() if c]
    lines.append(f"highest sustained: webhook {_fmt(figures['webhook_rps'], 0)}/s, "
                 f"no-op {_fmt(figures['noop_rps'], 0)}/s, ratio webhook/no-op {_fmt(figures['ratio'], 2)}"
                 + (f"  ({', '.join(capped)}: the highest rate tried; add higher --rates)" if capped else ""))
    cpu = figures["server_cpu_ms"]
    lines.append(f"servers' CPU a request, median of the steps: webhook {_fmt(cpu['webhook'], 2)} ms (its bot turn, "
                 f"send and pushes included), no-op {_fmt(cpu['noop'], 2)} ms")
    return "\n".join(lines)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="5,10,25,50,100,150,200,300,400,600,800,1200",
                        help="rising request rates per second (comma-separated)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per step (5)")
    parser.add_argument("--customers", type=int, default=200, help="distinct senders (200)")
    parser.add_argument("--pause", type=float, default=0.5,
                        help="seconds of rest before each step, before waiting for the servers to go idle (0.5)")
    parser.add_argument("--attempts", type=int, default=2,
                        help="tries of a step before the ramp ends for its target (2: one noisy step on a shared "
                             "machine does not end a ramp; 1: the first failure does)")
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--parley-cmd", help="program to run as `<cmd> run --host H --port P`")
    parser.add_argument("--stack", choices=("run", "prod", "both"), default="both",
                        help="`parley run`, the production stack (web + worker on PostgreSQL from "
                             "DATABASE_URL and REDIS_URL; skipped with a note when unset), or both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        args.rate_list = sorted({float(r) for r in args.rates.split(",") if r.strip()})
    except ValueError:
        parser.error("--rates must be numbers")
    if not args.rate_list or min(args.rate_list) <= 0 or not 0 < args.duration <= 120:
        parser.error("rates must be positive and --duration in (0, 120]")
    if args.attempts < 1:
        parser.error("--attempts must be at least 1")
    return args


def _measure(server: contextlib.AbstractContextManager[str], args: argparse.Namespace,
             sent: Callable[[], int]) -> tuple[list[Step], dict[str, Any]]:
    """Warm up, ramp both targets of one running stack; the figures of that stack."""
    before = sent()
    with server as url:
        client = Client(url)
        # Every sender writes once before the ramp, one webhook at a time: each step then measures the
        # steady state (known customers in open conversations). Without it the first step also paid for
        # `--customers` new contacts and conversations, and failed where the later ones held.
        _log(f"warming up against {url}: one webhook from each of {args.customers} senders")
        started = time.perf_counter()
        for _ in range(args.customers):
            client.post("webhook", args.customers)
            client.post("noop", args.customers)
        client.close()
        _log(f"warm-up took {time.perf_counter() - started:.1f} s, idle after {_fmt(wait_until_idle(sent))} s")
        steps = ramp(client, args.rate_list, args.duration, args.customers, args.pause, args.attempts,
                     lambda: wait_until_idle(sent), servers_cpu_s)
        wait_until_idle(sent)
        bot_replies = sent() - before
    webhook = best([s for s in steps if s.target == "webhook"])
    noop = best([s for s in steps if s.target == "noop"])
    figures = {"duration_s": args.duration, "webhook_rps": webhook, "noop_rps": noop,
               "ratio": webhook / noop if webhook and noop else None, "bot_replies_sent": bot_replies,
               "capped_by_rate_list": {t: best([s for s in steps if s.target == t]) == max(args.rate_list)
                                       for t in ("webhook", "noop")},
               "server_cpu_ms": {t: _median([s.server_cpu_ms for s in steps if s.target == t])
                                 for t in ("webhook", "noop")}}
    return steps, figures


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _serve_fake_twilio(root: str, url: Connection, sent: Synchronized[int], stop: EventType) -> None:
    """In a process of its own: the fake Twilio the tests use, counting the bot replies it accepts."""
    sys.path.insert(0, root)
    from tests.support.fakes import FakeTwilio
    from tests.support.fakes.server import Recorded, Reply

    class Counting(FakeTwilio):
        def handle(self, req: Recorded) -> Reply:
            reply = super().handle(req)
            if self.is_send(req) and reply.status == 201:
                with sent.get_lock():
                    sent.value += 1
            return reply

    fake = Counting(ACCOUNT_SID, AUTH_TOKEN).start()
    url.send(fake.url)
    stop.wait()
    fake.stop()


@contextlib.contextmanager
def fake_twilio() -> Iterator[tuple[str, Callable[[], int]]]:
    """The fake Twilio where the bot's replies go, in a process of its own (its URL, and how many
    sends it accepted so far): in the client's process its request handling took the client's
    interpreter lock from the requests being timed, and slowed the server's deliveries with it."""
    context = multiprocessing.get_context("spawn")
    sent = context.Value("i", 0)
    stop = context.Event()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_serve_fake_twilio, args=(os.getcwd(), sender, sent, stop),
                              name="fake-twilio", daemon=True)
    process.start()
    try:
        if not receiver.poll(60):
            raise ServerError("the fake Twilio did not start")
        yield receiver.recv(), lambda: int(sent.value)
    finally:
        stop.set()
        process.join(10)
        if process.is_alive():
            process.kill()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with fake_twilio() as (fake_url, sent):
        return _main(args, fake_url, sent)


def _main(args: argparse.Namespace, fake_url: str, sent: Callable[[], int]) -> int:
    env = {"PARLEY_TWILIO_ACCOUNT_SID": ACCOUNT_SID, "PARLEY_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "PARLEY_TWILIO_NUMBER": NUMBER, "PARLEY_TWILIO_API_BASE": fake_url, "PARLEY_BENCH_NOOP": "1"}
    program = parley_program(args.parley_cmd)
    stacks: dict[str, contextlib.AbstractContextManager[str]] = {}
    if args.stack in ("run", "both"):
        stacks["run"] = parley_server(program, args.start_timeout, extra_env=env)
    if args.stack in ("prod", "both"):
        urls = stack_urls()
        if urls is None:
            _log("production stack skipped: set DATABASE_URL=postgresql://… and REDIS_URL")
        else:
            stacks["prod"] = production_stack(program, args.start_timeout, *urls, extra_env=env)
    results: dict[str, tuple[list[Step], dict[str, Any]]] = {}
    try:
        for name, server in stacks.items():
            results[name] = _measure(server, args, sent)
    except ServerError as exc:
        _log(str(exc))
        return EXIT_SERVER
    if args.json:
        print(json.dumps({"bench": "webhooks",
                          "stacks": {name: {"figures": figures, "steps": [asdict(s) for s in steps]}
                                     for name, (steps, figures) in results.items()},
                          "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                      "platform": platform.platform()}}, indent=2))
    else:
        for name, (steps, figures) in results.items():
            print(f"== {STACKS[name]}")
            print(_table(steps, figures))
            print(f"bot replies sent to the fake Twilio meanwhile: {figures['bot_replies_sent']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
