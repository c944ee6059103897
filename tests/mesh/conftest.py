"""Mesh over real HTTP on each database it supports: SQLite always, PostgreSQL when reachable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from mesh.app import create_app
from mesh.settings import MeshSettings
from tests.support.servers import serving

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SERVICE_TOKEN = "mesh-service-token"
USER_TOKENS = "ada-token=acme:ada,eve-token=globex:eve"


async def _fresh_postgres_database() -> str | None:
    try:
        admin = await asyncpg.connect(POSTGRES, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES}: {exc}")
    name = f"mesh_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES, timeout=3)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield request.param


@pytest.fixture
async def mesh_url(database: str, tmp_path: Path) -> AsyncIterator[str]:
    """Mesh served on a free port, on an empty database of the parametrized kind."""
    created: str | None = None
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'mesh.db'}"
    else:
        created = await _fresh_postgres_database()
        url = POSTGRES.rsplit("/", 1)[0] + f"/{created}"
    app = create_app(
        MeshSettings(database_url=url, service_token=SERVICE_TOKEN, tokens=USER_TOKENS)
    )
    try:
        async with serving(app) as served:
            yield served + "/graphql"
    finally:
        await app.state.engine.dispose()
        if created:
            await _drop(created)
