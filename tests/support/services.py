"""The gateway, the admin function and Mesh served in-process, configured as in production.

For the tests that probe all three the same way (hostile headers, slow bodies, fuzzing):
each is served by uvicorn on its own loopback port, or used directly as an ASGI app.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions import asgi_app
from functions.admin import context as admin_context
from functions.gateway import context as gateway_context
from functions.gateway.asgi import with_media_streams
from mesh.app import create_app
from mesh.settings import MeshSettings
from tests.support.servers import serving

GATEWAY_KEY = "key-acme"
ADMIN_KEY = "admin-acme"
MESH_SERVICE_TOKEN = "mesh-service-token"
MESH_USER_TOKEN = "ada-token"


@contextmanager
def environment(**env: str) -> Iterator[None]:
    """Set the variables for the block (the functions read them on their next request)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def function_env(redis_url: str, sink_url: str, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "K_SINK": sink_url,
        "VOICEFLEET_API_KEYS": f"acme:{GATEWAY_KEY},globex:key-globex",
        "VOICEFLEET_ADMIN_KEYS": f"acme:{ADMIN_KEY}",
        "VOICEFLEET_ALLOWED_ROOM_HOSTS": "*.daily.co",
        "VOICEFLEET_OFFER_TIMEOUT_S": "0.2",
        **extra,
    }


@dataclass
class Apps:
    gateway: Any
    admin: Any
    mesh: Any


@asynccontextmanager
async def phone_gateway(**env: str) -> AsyncIterator[str]:
    """The gateway with its providers' media streams (as `voicefleet gateway` serves it), on
    loopback in this process, configured by `env`; its context is fresh and closed after."""
    with environment(**env):
        await gateway_context.context.reset()
        try:
            async with serving(with_media_streams(asgi_app("gateway"))) as url:
                yield url
        finally:
            await gateway_context.context.reset()


@asynccontextmanager
async def apps(redis_url: str, sink_url: str, data_dir: Path, **env: str) -> AsyncIterator[Apps]:
    """The three ASGI apps, configured; their process contexts are fresh and closed after."""
    mesh = create_app(
        MeshSettings(
            database_url=f"sqlite:///{data_dir / 'mesh.db'}",
            service_token=MESH_SERVICE_TOKEN,
            tokens=f"{MESH_USER_TOKEN}=acme:ada",
        )
    )
    await mesh.state.prepare()
    with environment(**function_env(redis_url, sink_url, **env)):
        await gateway_context.context.reset()
        await admin_context.context.reset()
        try:
            yield Apps(asgi_app("gateway"), asgi_app("admin"), mesh)
        finally:
            await gateway_context.context.reset()
            await admin_context.context.reset()
            await mesh.state.engine.dispose()


@dataclass
class Served:
    gateway: str
    admin: str
    mesh: str


@asynccontextmanager
async def served(apps: Apps) -> AsyncIterator[Served]:
    """The apps over real HTTP (uvicorn, as the dev stack and functions-framework serve them)."""
    async with (
        serving(apps.gateway) as gateway,
        serving(apps.admin) as admin,
        serving(apps.mesh) as mesh,
    ):
        yield Served(gateway, admin, mesh)
