"""Settings every voicefleet service shares; each service extends them with its own."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from voicefleet.blobs import BlobStore, blob_store


def split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    allowed_room_hosts: Annotated[list[str], NoDecode] = Field(
        default=["*.daily.co"], validation_alias="VOICEFLEET_ALLOWED_ROOM_HOSTS"
    )
    ice_servers_json: str = Field(default="[]", validation_alias="VOICEFLEET_ICE_SERVERS")
    # A launch no runner has started by then fails `no capacity` rather than wait silently
    # (the gateway sweeps for such sessions, and a runner refuses one at its claim).
    queue_timeout_s: float = Field(
        default=60.0, gt=0, validation_alias="VOICEFLEET_QUEUE_TIMEOUT_S"
    )

    # Shared storage for what travels by reference (reports too large for one event); every
    # service of the dev stack runs on one machine, so a directory is shared storage there.
    blob_dir: str = Field(default=".voicefleet/blobs", validation_alias="VOICEFLEET_BLOB_DIR")
    # S3-compatible object storage instead.
    blob_bucket: str | None = Field(default=None, validation_alias="VOICEFLEET_BLOB_S3_BUCKET")
    blob_endpoint_url: str | None = Field(
        default=None, validation_alias="VOICEFLEET_BLOB_S3_ENDPOINT_URL"
    )
    blob_region: str | None = Field(default=None, validation_alias="VOICEFLEET_BLOB_S3_REGION")
    blob_access_key: str | None = Field(
        default=None, validation_alias="VOICEFLEET_BLOB_S3_ACCESS_KEY"
    )
    blob_secret_key: str | None = Field(
        default=None, validation_alias="VOICEFLEET_BLOB_S3_SECRET_KEY"
    )
    # How long a recording's pre-signed URL in a report works.
    recording_url_ttl_s: int = Field(
        default=3600, gt=0, le=7 * 86400, validation_alias="VOICEFLEET_RECORDING_URL_TTL_S"
    )

    def blobs(self) -> BlobStore:
        return blob_store(
            self.blob_dir,
            self.blob_bucket,
            self.blob_endpoint_url,
            access_key=self.blob_access_key,
            secret_key=self.blob_secret_key,
            region=self.blob_region,
        )

    @field_validator("allowed_room_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return split_csv(value)
