"""Mesh over real HTTP on each database it supports: SQLite always, PostgreSQL when reachable."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from mesh.app import create_app
from mesh.settings import MeshSettings
from tests.support.servers import serving

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SERVICE_TOKEN = "mesh-service-token"
# A token may end in base64 padding: `bob-token==` is acme:bob.
USER_TOKENS = "ada-token=acme:ada,eve-token=globex:eve,bob-token===acme:bob"


async def _fresh_postgres_database() -> str:
    """A new, randomly named database on the test server, so runs never share tables.

    Only an unreachable server skips (and not under CI, which has one); a server that is there
    but refuses us is a failure, not a reason to test less."""
    try:
        admin = await asyncpg.connect(POSTGRES, timeout=3)
    except (OSError, TimeoutError) as exc:
        reason = f"PostgreSQL not reachable at {POSTGRES}: {type(exc).__name__}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"mesh_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
