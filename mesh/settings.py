"""Mesh's configuration, read once from the environment at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MeshSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # SQLite by default; `postgresql://…` (or `postgresql+asyncpg://…`) in production.
    database_url: str = Field(
        default="sqlite+aiosqlite:///mesh.db", validation_alias="MESH_DATABASE_URL"
    )
    # `token=tenant:user` pairs: end users' (or their apps') tokens, each for one identity.
    tokens: str = Field(default="", validation_alias="MESH_TOKENS")
    # The runners' token: trusted to act for the tenant and user named in its headers.
    service_token: str | None = Field(default=None, validation_alias="MESH_SERVICE_TOKEN")
    host: str = Field(default="127.0.0.1", validation_alias="MESH_HOST")
    port: int = Field(default=4446, validation_alias="MESH_PORT")
