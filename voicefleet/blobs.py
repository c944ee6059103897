"""Where large things wait by reference: reports too big for the broker, recordings.

A local directory is the dev default; every service of the dev stack runs on one machine, so
one directory is shared storage there. Keys are relative paths made by voicefleet, checked
so that none escapes the directory.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath


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
