"""A local S3-compatible server for tests: s3rver (npm, installed with the web interface's
dev dependencies), object storage replaced at its network boundary. The real S3 client code
(`voicefleet.blobs.S3BlobStore`, the MinIO client) talks to it over HTTP, signatures and
pre-signed URLs included."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.ports import free_port

S3RVER = Path(__file__).resolve().parents[1] / "web" / "node_modules" / ".bin" / "s3rver"
# s3rver's fixed credentials.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str
    bucket: str


@contextmanager
def local_s3(bucket: str = "recordings") -> Iterator[LocalS3]:
    if not S3RVER.exists():
        raise RuntimeError(f"{S3RVER} is missing: run scripts/setup (it installs web/)")
    folder = Path(tempfile.mkdtemp(prefix="voicefleet-s3-"))
    port = free_port()
    process = subprocess.Popen(
        [str(S3RVER), "--directory", str(folder), "--address", "127.0.0.1",
         "--port", str(port), "--configure-bucket", bucket, "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("s3rver did not start") from None
                time.sleep(0.1)
        yield LocalS3(url, bucket)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
