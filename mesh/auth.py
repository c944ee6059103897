"""Who is calling: an identity from the bearer token, never from the request's data.

A user token names its tenant and user itself. The service token (the runners') is trusted to
name them in headers, because a runner acts for whichever session it runs.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from starlette.requests import Request

from mesh.settings import MeshSettings

TENANT_HEADER = "x-voicefleet-tenant"
USER_HEADER = "x-voicefleet-user"
_NAME = re.compile(r"^[A-Za-z0-9._@:-]{1,100}$")


@dataclass(frozen=True)
class Identity:
    tenant: str
    user: str


class Unauthenticated(Exception):
    pass


class BadIdentity(Exception):
    pass


def _checked(value: str | None, header: str) -> str:
    if value is None or not _NAME.match(value):
        raise BadIdentity(f"{header} must be 1 to 100 of A-Z a-z 0-9 . _ @ : -")
    return value


class Authenticator:
    def __init__(self, settings: MeshSettings) -> None:
        self._users: dict[str, Identity] = {}
        for pair in filter(None, (p.strip() for p in settings.tokens.split(","))):
            token, _, who = pair.partition("=")
            tenant, _, user = who.partition(":")
            if not token or not tenant or not user:
                raise ValueError("MESH_TOKENS entries must look like token=tenant:user")
            self._users[token] = Identity(_checked(tenant, "tenant"), _checked(user, "user"))
        self._service = settings.service_token

    def identify(self, request: Request) -> Identity:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("missing bearer token")
        if self._service and hmac.compare_digest(self._service.encode(), token.encode()):
            return Identity(
                _checked(request.headers.get(TENANT_HEADER), TENANT_HEADER),
                _checked(request.headers.get(USER_HEADER), USER_HEADER),
            )
        found: Identity | None = None
        for known, identity in self._users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = identity
        if found is None:
            raise Unauthenticated("invalid token")
        return found
