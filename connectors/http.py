"""Bounded downloads for inbound media: streamed, size-limited, credentials only where they belong."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


class MediaTooLarge(Exception):
    pass


class MediaFetchError(Exception):
    pass


@dataclass(frozen=True)
class Downloaded:
    data: bytes
    content_type: str | None


def download(url: str, *, max_bytes: int, auth: tuple[str, str] | None = None,
             headers: dict[str, str] | None = None, timeout: float = 20.0) -> Downloaded:
    """GET `url` following redirects (httpx drops credentials when a redirect leaves the origin)."""
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client, \
                client.stream("GET", url, auth=auth, headers=headers or {}) as response:
            if response.status_code >= 400:
                raise MediaFetchError(f"HTTP {response.status_code} fetching media")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise MediaTooLarge(f"{declared} bytes; the limit is {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise MediaTooLarge(f"more than {max_bytes} bytes")
                chunks.append(chunk)
            return Downloaded(b"".join(chunks), response.headers.get("content-type"))
    except httpx.HTTPError as exc:
        raise MediaFetchError(f"{type(exc).__name__} fetching media") from exc
