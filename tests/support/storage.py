"""Shared storage for the tests: a real S3-compatible server (moto's server mode) on a loopback port,
a fresh bucket per test, and settings pointing an app at LocalStorage or at that bucket.

A test module runs its tests on both backends by overriding `settings` with `storage_settings`
and parametrizing (`@pytest.mark.parametrize("settings", BACKENDS, indirect=True)`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from models.settings import Settings

BACKENDS = ["local", "s3"]


@dataclass(frozen=True)
class S3Bucket:
    endpoint_url: str
    bucket: str

    def url(self, prefix: str = "parley") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")

    def object_keys(self) -> list[str]:
        reply = self.client().list_objects_v2(Bucket=self.bucket)
        return sorted(obj["Key"] for obj in reply.get("Contents", ()))


@pytest.fixture(scope="session")
def moto_s3_endpoint() -> Iterator[str]:
    """One S3-compatible server for the session, on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """An empty bucket of its own; the standard AWS variables carry the (fake) credentials."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "parley-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parley-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = S3Bucket(moto_s3_endpoint, f"parley-{secrets.token_hex(6)}")
    bucket.client().create_bucket(Bucket=bucket.bucket)
    return bucket


def storage_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """`settings` on the backend the test was parametrized with (`local` when it was not)."""
    backend = getattr(request, "param", "local")
    if backend == "local":
        return settings
    if backend != "s3":
        raise ValueError(f"unknown storage backend {backend!r}")
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return settings.with_(storage_url=bucket.url(), s3_endpoint_url=bucket.endpoint_url)
