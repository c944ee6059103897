"""The runner's configuration, read once from the environment at start-up."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from voicefleet.event_spool import EventSpool
from voicefleet.settings import CommonSettings, split_csv

# What a call can be recorded as (bot/recording.py).
RECORDING_FORMATS = ("wav", "opus")


def _default_runner_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RunnerSettings(CommonSettings):
    runner_id: str = Field(default_factory=_default_runner_id, validation_alias="RUNNER_ID")
    auto_start: bool = Field(default=False, validation_alias="RUNNER_AUTO_START")
    # The launch (LaunchPayload JSON) an auto-start runner runs, e.g. from a Job's environment.
    session: str | None = Field(default=None, validation_alias="RUNNER_SESSION")
    session_max_s: float = Field(default=3600.0, validation_alias="RUNNER_SESSION_MAX_SECONDS")
    lease_ms: int = Field(default=15_000, validation_alias="RUNNER_LEASE_MS")
    heartbeat_s: float = Field(default=5.0, validation_alias="RUNNER_HEARTBEAT_S")
    first_offer_timeout_s: float = Field(
        default=60.0, validation_alias="RUNNER_FIRST_OFFER_TIMEOUT_S"
    )
    # The broker (a SinkBinding injects it): session.started and session.report go there.
    k_sink: str | None = Field(default=None, validation_alias="K_SINK")
    sink_token_file: str = Field(
        default="/oidc/token", validation_alias="VOICEFLEET_SINK_OIDC_TOKEN_FILE"
    )
    # Where session events the broker did not take wait to be sent again (voicefleet/
    # event_spool.py): a volume that outlives the container (the Service mounts an emptyDir).
    # Unset: a fresh temporary folder, which covers a broker outage during the pod's life
    # and its drain, not a restart of its container.
    event_spool_dir: str | None = Field(default=None, validation_alias="VOICEFLEET_EVENT_SPOOL_DIR")
    event_spool_max_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, validation_alias="VOICEFLEET_EVENT_SPOOL_MAX_BYTES"
    )
    # How long a draining pod keeps trying to send what waits before it exits.
    event_spool_flush_s: float = Field(
        default=30.0, ge=0, validation_alias="VOICEFLEET_EVENT_SPOOL_FLUSH_S"
    )
    # The largest event the broker takes (Kafka's default message.max.bytes is about 1 MB);
    # a larger report travels by reference through VOICEFLEET_BLOB_DIR.
    report_event_max_bytes: int = Field(
        default=1_000_000, gt=0, validation_alias="VOICEFLEET_REPORT_EVENT_MAX_BYTES"
    )
    # Tenants whose calls are recorded, comma separated, each `tenant` (WAV) or `tenant:opus`
    # (Ogg Opus); `*` (or `*:opus`) for every tenant not named.
    recording_tenants: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="VOICEFLEET_RECORDING_TENANTS"
    )
    host: str = Field(default="0.0.0.0", validation_alias="RUNNER_HOST")
    port: int = Field(default=8080, validation_alias="PORT")
    # The pod: how many calls it holds at once, each in a process of its own (a slot), and
    # whether those processes are forked from a preloaded parent (else each starts Python).
    slots: int = Field(default=1, ge=1, le=64, validation_alias="RUNNER_SLOTS")
    zygote: bool = Field(default=True, validation_alias="RUNNER_ZYGOTE")
    # Set by the pod for a slot's process: serve on this Unix socket, not on HOST:PORT.
    slot_socket: str | None = Field(default=None, validation_alias="RUNNER_SLOT_SOCKET")

    @field_validator("recording_tenants", mode="before")
    @classmethod
    def _split_tenants(cls, value: object) -> object:
        return split_csv(value)

    @field_validator("recording_tenants")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        for entry in value:
            tenant, _, form = entry.partition(":")
            if form not in ("", *RECORDING_FORMATS):
                raise ValueError(
                    f"recording format {form!r} for {tenant!r}: use one of "
                    + ", ".join(RECORDING_FORMATS)
                )
        return value

    def recording_format(self, tenant: str) -> str | None:
        """The format the tenant's calls are recorded in, None when they are not."""
        formats = {
            t: form or "wav" for t, _, form in (e.partition(":") for e in self.recording_tenants)
        }
        return formats.get(tenant, formats.get("*"))

    def event_spool(self) -> EventSpool:
        # The default folder is made by the first event that needs it, and goes when empty.
        folder = self.event_spool_dir or os.path.join(
            tempfile.gettempdir(), f"voicefleet-spool-{uuid.uuid4().hex[:12]}"
        )
        return EventSpool(Path(folder), max_bytes=self.event_spool_max_bytes)

    def records(self, tenant: str) -> bool:
        return self.recording_format(tenant) is not None

    @property
    def graceful_timeout_s(self) -> float:
        """Long enough for the longest session (and its goodbye) to finish after SIGTERM."""
        return self.session_max_s + 60
