"""What the gateway holds for the life of its process: settings, Redis, HTTP client, keys."""

from __future__ import annotations

import json
from pathlib import Path

from redis.asyncio import Redis
from starlette.requests import Request

from functions.gateway.admission import Admission
from functions.gateway.daily_rooms import DailyRooms
from functions.gateway.launcher import Launcher
from functions.gateway.phone_accounts import TelnyxAccount, TwilioAccount, parse_accounts
from functions.gateway.settings import GatewaySettings
from functions.gateway.stream_tokens import StreamTokens
from functions.http.keys import bearer, tenant_for
from functions.http.lifetime import ProcessContext
from voicefleet.http_client import async_client
from voicefleet.http_errors import ApiError
from voicefleet.records.store import RecordsStore
from voicefleet.redis_conn import connect
from voicefleet.session_store import SessionStore
from voicefleet.signalling import SignallingRelay


class GatewayContext:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.redis: Redis = connect(settings.redis_url)
        self.http = async_client(timeout=10.0)
        record_ttl_s = max(settings.idempotency_ttl_s, 3600)
        self.store = SessionStore(self.redis, record_ttl_s=record_ttl_s)
        self.blocking_redis: Redis = connect(settings.redis_url, blocking=True)
        self.relay = SignallingRelay(self.blocking_redis)
        # Launches get their own few keep-alive connections to the broker, so a burst of them
        # neither waits behind Daily's API nor makes httpcore scan a large pool per request.
        self.broker_http = async_client(timeout=10.0, max_connections=20)
        self.launcher = Launcher(
            self.store,
            self.broker_http,
            settings.k_sink,
            Admission(
                self.redis,
                default=settings.default_limits(),
                overrides=settings.tenant_limits(),
                record_ttl_s=record_ttl_s,
            ),
            queue_timeout_s=settings.queue_timeout_s,
            token_file=Path(settings.sink_token_file),
        )
        self.records = RecordsStore(settings.records_database_url)
        self.blobs = settings.blobs()  # recordings: pre-signed URLs in reports
        self.ice_servers: list[dict[str, object]] = json.loads(settings.ice_servers_json)
        self._tenants = settings.tenants_by_key()
        # Phone calls: the accounts whose webhooks are answered, and their streams' tokens.
        self.twilio_accounts = parse_accounts(settings.twilio_accounts_json, TwilioAccount)
        self.telnyx_accounts = parse_accounts(settings.telnyx_accounts_json, TelnyxAccount)
        self.stream_tokens = StreamTokens(self.redis)
        self.daily: DailyRooms | None = None
        if settings.daily_api_key:
            self.daily = DailyRooms(
                self.http,
                api_url=settings.daily_api_url,
                api_key=settings.daily_api_key,
                ttl_s=settings.daily_room_ttl_s,
            )

    def authenticate(self, request: Request) -> str:
        """The tenant of the request's bearer key; compares in constant time."""
        tenant = tenant_for(bearer(request), self._tenants)
        if tenant is None:
            raise ApiError(401, "invalid API key")
        return tenant

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.broker_http.aclose()
        await self.redis.aclose()
        await self.blocking_redis.aclose()
        await self.records.aclose()


context: ProcessContext[GatewayContext] = ProcessContext(lambda: GatewayContext(GatewaySettings()))
