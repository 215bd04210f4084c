"""Bounded downloads for inbound media: through the outbound guard (no private addresses, redirects
checked), streamed, size-limited, credentials only where they belong."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.outbound import OutboundFailed, OutboundGuard, OutboundRefused, OutboundTooLarge


class MediaTooLarge(Exception):
    pass


class MediaFetchError(Exception):
    pass


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str | None


def download(url: str, *, max_bytes: int, auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None, timeout: float = 20.0,
             guard: OutboundGuard | None = None) -> Downloaded:
    """GET a media URL a provider gave us. Redirects are followed (Twilio's media lives behind one)
    but credentials go to the first origin only, and a URL or redirect to a local address is refused."""
    try:
        answer = (guard or OutboundGuard.from_env()).get(url, headers=headers, auth=auth, timeout=timeout,
                                                         max_bytes=max_bytes)
    except OutboundTooLarge as exc:
        raise MediaTooLarge(str(exc)) from exc
    except (OutboundRefused, OutboundFailed) as exc:
        raise MediaFetchError(f"{exc} fetching media") from exc
    if answer.status_code >= 400:
        raise MediaFetchError(f"HTTP {answer.status_code} fetching media")
    return Downloaded(answer.content, answer.headers.get("content-type"))
