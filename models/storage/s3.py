"""S3-compatible object storage (AWS S3, MinIO, Ceph, R2 ...) through boto3, so processes on several
hosts share attachments and trained models. Credentials come from boto3's usual chain
(`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, a profile, an instance role): Parley never stores them.

An S3 PUT is atomic (readers see the old object or the new one), uploads are streamed (multipart for
big files) and downloads are the response body itself, read chunk by chunk by whoever serves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from models.storage.base import NotStored, StorageError, check_key

_MISSING = {"404", "NoSuchKey", "NotFound"}
_TRANSFER = TransferConfig(multipart_threshold=16 * 1024 * 1024, max_concurrency=2)


class S3Storage:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        if not bucket:
            raise ValueError("S3 storage needs a bucket: PARLEY_STORAGE_URL=s3://bucket/optional/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            check_key(self.prefix)
        self.endpoint_url = endpoint_url
        # Path-style addressing when an endpoint is given: MinIO, Ceph and local servers expect it.
        config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 4, "mode": "standard"},
                        s3={"addressing_style": "path" if endpoint_url else "auto"})
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config)

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes | BinaryIO) -> None:
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data))
            else:
                self.client.upload_fileobj(data, self.bucket, self._key(key), Config=_TRANSFER)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not store {key} in {self.describe()}: {exc}") from exc

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as fh:
            self.put(key, fh)

    def open(self, key: str) -> BinaryIO:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise NotStored(key) from exc
            raise StorageError(f"could not read {key} from {self.describe()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not read {key} from {self.describe()}: {exc}") from exc
        return cast(BinaryIO, reply["Body"])

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise StorageError(f"could not check {key} in {self.describe()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not check {key} in {self.describe()}: {exc}") from exc
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not delete {key} from {self.describe()}: {exc}") from exc

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix) + "/"
        strip = len(self.prefix) + 1 if self.prefix else 0
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder):
                found += [obj["Key"][strip:] for obj in page.get("Contents", ())]
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"could not list {prefix} in {self.describe()}: {exc}") from exc
        return sorted(found)

    def local_path(self, key: str) -> Path | None:
        return None

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} (endpoint {self.endpoint_url})" if self.endpoint_url else where


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
