"""SQL engines for the services that keep data in SQL (Mesh, the records): SQLite by default,
PostgreSQL in production, through SQLAlchemy's async drivers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def utcnow() -> datetime:
    return datetime.now(UTC)


def async_url(url: str) -> str:
    """The async driver's URL for a plain `postgresql://` or `sqlite:///` one."""
    for plain, driver in (("postgresql://", "postgresql+asyncpg://"),
                          ("postgres://", "postgresql+asyncpg://"),
                          ("sqlite://", "sqlite+aiosqlite://")):  # fmt: skip
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def make_engine(url: str) -> AsyncEngine:
    return create_async_engine(async_url(url), pool_pre_ping=True)


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
