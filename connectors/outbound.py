"""The one HTTP client for requests the server makes on its own behalf to URLs others chose: LLM HTTP
actions (an admin's URL), inbound media (a provider's URL inside a webhook), knowledge fetches,
outgoing webhooks, conversation actions and the `http` bot engine (POST).

Such a URL must not turn Parley into a way into its own network (SSRF): loopback, private,
link-local (169.254.169.254, the cloud metadata service), shared, multicast and reserved addresses are
refused unless `PARLEY_OUTBOUND_ALLOW` (comma-separated host names, IPs or CIDRs) names them. Every
address a host name resolves to is checked, and so is every redirect, which is followed by hand (never
to a refused address, and without credentials once it leaves the first origin). Bodies are capped in
size and whole requests in time. The hosts of explicitly configured provider API bases
(`PARLEY_TWILIO_API_BASE`, `PARLEY_WHATSAPP_API_BASE`) are allowed too: an operator pointing them at
an internal gateway (or a test at a local fake) has named them on purpose.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_API_BASES = ("PARLEY_TWILIO_API_BASE", "PARLEY_WHATSAPP_API_BASE")
_REDIRECTS = (301, 302, 303, 307, 308)


class OutboundRefused(Exception):
    """The URL leads somewhere the server must not go on anyone's behalf (nothing was sent there)."""


class OutboundTooLarge(Exception):
    """The answer is larger than the cap; it was not read further."""


class OutboundFailed(Exception):
    """No usable answer: timeout, connection error, too many redirects."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def _parse_allow(raw: str) -> tuple[frozenset[str], tuple[IpNetwork, ...]]:
    hosts: set[str] = set()
    nets: list[IpNetwork] = []
    for item in (x.strip() for x in raw.split(",")):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            hosts.add(item.lower().rstrip("."))
    return frozenset(hosts), tuple(nets)


@dataclass(frozen=True)
class OutboundGuard:
    """Which destinations are allowed beyond the public internet, and the caps."""

    allow_hosts: frozenset[str] = frozenset()
    allow_nets: tuple[IpNetwork, ...] = ()
    max_redirects: int = 5
    resolve: object = field(default=socket.getaddrinfo, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutboundGuard:
        """Read at call time (like action secrets), so every process applies what is configured now."""
        env = os.environ if env is None else env
        hosts, nets = _parse_allow(env.get("PARLEY_OUTBOUND_ALLOW") or "")
        bases = {(urlsplit(env[name]).hostname or "").lower() for name in _API_BASES if env.get(name)}
        return cls(allow_hosts=hosts | {b for b in bases if b}, allow_nets=nets)

    def _allowed_ip(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.allow_nets):
            return True
        return ip.is_global and not ip.is_multicast

    def check_url(self, url: str) -> str | None:
        """Raise `OutboundRefused` unless every address `url`'s host resolves to may be reached.
        Returns the checked address to connect to (None: a host allowed by name, resolved as usual),
        so that a second DNS answer cannot swap in another address (DNS rebinding)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundRefused("only http(s) URLs with a host are fetched")
        host = parts.hostname.lower().rstrip(".")
        if host in self.allow_hosts:
            return None
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = self.resolve(host, parts.port or (443 if parts.scheme == "https" else 80),  # type: ignore[operator]
                                     type=socket.SOCK_STREAM)
            except (OSError, UnicodeError) as exc:
                raise OutboundFailed(f"cannot resolve {host}") from exc
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise OutboundFailed(f"cannot resolve {host}")
        for ip in addresses:
            if not self._allowed_ip(ip):
                raise OutboundRefused(f"{host} is a private or local address ({ip}); name it in "
                                      "PARLEY_OUTBOUND_ALLOW if it is meant to be reached")
        return None if literal is not None else str(addresses[0])

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, auth: tuple[str, str] | None = None,
            timeout: float = 10.0, max_bytes: int = DEFAULT_MAX_BYTES,
            client: httpx.Client | None = None, follow: bool = True) -> Answer:
        """GET `url` within the guard: at most `max_bytes` of body and `timeout` seconds in all,
        redirects checked one by one (`follow` False: a redirect is the answer); credentials (`auth`,
        `headers`) go to the first origin only."""
        deadline = time.monotonic() + timeout
        origin = _origin(url)
        own = client is None
        http = client or httpx.Client(follow_redirects=False, trust_env=False)
        try:
            for _ in range(self.max_redirects + 1):
                pinned = self.check_url(url)
                same = _origin(url) == origin
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OutboundFailed(f"no answer within {timeout:g} s")
                answer = _fetch(http, url, pinned, dict(headers or {}) if same else {}, auth if same else None,
                                left, max_bytes, deadline)
                if follow and answer.status_code in _REDIRECTS and "location" in answer.headers:
                    url = urljoin(url, answer.headers["location"])
                    continue
                return answer
            raise OutboundFailed("too many redirects")
        finally:
            if own:
                http.close()


    def post(self, url: str, *, content: bytes, headers: Mapping[str, str] | None = None, timeout: float = 10.0,
             max_bytes: int = DEFAULT_MAX_BYTES, client: httpx.Client | None = None) -> Answer:
        """POST `content` to `url` within the guard (outgoing webhooks, conversation actions, the `http` bot
        engine). A redirect is never followed: it is the answer (a POST must not be replayed elsewhere)."""
        deadline = time.monotonic() + timeout
        own = client is None
        http = client or httpx.Client(follow_redirects=False, trust_env=False)
        try:
            pinned = self.check_url(url)
            return _fetch(http, url, pinned, dict(headers or {}), None, timeout, max_bytes, deadline,
                          method="POST", content=content)
        finally:
            if own:
                http.close()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _fetch(http: httpx.Client, url: str, pinned: str | None, headers: dict[str, str],
           auth: tuple[str, str] | None, timeout: float, max_bytes: int, deadline: float, *,
           method: str = "GET", content: bytes | None = None) -> Answer:
    """One request; with `pinned`, to that checked address, with the original Host header and TLS name."""
    target = httpx.URL(url)
    extensions: dict[str, Any] = {}
    if pinned is not None:
        headers = {**headers, "Host": target.netloc.decode("ascii")}
        extensions["sni_hostname"] = target.host
        target = target.copy_with(host=pinned)
    try:
        with http.stream(method, target, headers=headers, auth=auth, timeout=timeout, extensions=extensions,
                         follow_redirects=False, content=content) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise OutboundTooLarge(f"{declared} bytes; the limit is {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise OutboundTooLarge(f"more than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise OutboundFailed("the answer took too long")
                chunks.append(chunk)
            return Answer(response.status_code, response.headers, b"".join(chunks), str(response.url))
    except httpx.TimeoutException as exc:
        raise OutboundFailed("no answer in time") from exc
    except httpx.HTTPError as exc:
        raise OutboundFailed(type(exc).__name__) from exc
