"""Where large things wait by reference: reports too big for the broker, recordings.

A local directory is the dev default; every service of the dev stack runs on one machine, so
one directory is shared storage there. Keys are relative paths made by voicefleet, checked
so that none escapes the directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from typing import Protocol


class BlobNotFound(LookupError):
    pass


def _checked(key: str) -> PurePosixPath:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"invalid blob key {key!r}")
    return path


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + ".partial")
            partial.write_bytes(data)
            partial.replace(path)  # a reader never sees half a blob

        await asyncio.to_thread(write)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    async def put_file(self, key: str, source: Path) -> None:
        await self.put(key, await asyncio.to_thread(source.read_bytes))

    async def url(self, key: str, expires_s: int) -> str | None:
        """A local file has no URL a tenant could fetch; its key says where it is."""
        return None


class S3BlobStore:
    """A bucket of S3-compatible object storage through the MinIO client (AWS S3, MinIO,
    Ceph …); its calls block, so each runs in a worker thread. Credentials come from
    `VOICEFLEET_BLOB_S3_ACCESS_KEY`/`_SECRET_KEY`."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str,
        access_key: str | None,
        secret_key: str | None,
        region: str | None = None,
    ) -> None:
        from urllib.parse import urlsplit

        from minio import Minio

        parts = urlsplit(endpoint_url)
        self.bucket = bucket
        self._client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
        )

    async def put(self, key: str, data: bytes) -> None:
        import io

        _checked(key)
        await asyncio.to_thread(
            self._client.put_object, self.bucket, key, io.BytesIO(data), len(data)
        )

    async def put_file(self, key: str, source: Path) -> None:
        _checked(key)
        await asyncio.to_thread(self._client.fput_object, self.bucket, key, str(source))

    async def get(self, key: str) -> bytes:
        from minio.error import S3Error

        _checked(key)

        def read() -> bytes:
            try:
                response = self._client.get_object(self.bucket, key)
            except S3Error as exc:
                if exc.code == "NoSuchKey":
                    raise BlobNotFound(key) from exc
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(read)

    async def url(self, key: str, expires_s: int) -> str | None:
        """A pre-signed GET that stops working after `expires_s`."""
        from datetime import timedelta

        return await asyncio.to_thread(
            self._client.presigned_get_object, self.bucket, key, timedelta(seconds=expires_s)
        )


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def put_file(self, key: str, source: Path) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def url(self, key: str, expires_s: int) -> str | None: ...


def blob_store(
    directory: str,
    bucket: str | None,
    endpoint_url: str | None,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
) -> BlobStore:
    if bucket:
        return S3BlobStore(
            bucket,
            endpoint_url=endpoint_url or "https://s3.amazonaws.com",
            access_key=access_key,
            secret_key=secret_key,
            region=region,
        )
    return LocalBlobStore(Path(directory))
