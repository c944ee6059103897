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
from voicefleet.authorization import BadAuthorization, bearer_token

TENANT_HEADER = "x-voicefleet-tenant"
USER_HEADER = "x-voicefleet-user"
# A tenant is a platform name (launches cap it at 64). A user id is the tenant's own: the bot
# accepts `[\w.@:-]{1,100}` for it, so Mesh takes the ASCII part of that, colon included.
_TENANT = re.compile(r"[A-Za-z0-9._@-]{1,64}")
_USER = re.compile(r"[A-Za-z0-9._@:-]{1,100}")
_RULES = {
    _TENANT: "1 to 64 of A-Z a-z 0-9 . _ @ -",
    _USER: "1 to 100 of A-Z a-z 0-9 . _ @ : -",
}


@dataclass(frozen=True)
class Identity:
    tenant: str
    user: str


class Unauthenticated(Exception):
    pass


class BadIdentity(Exception):
    pass


def _checked(value: str | None, rule: re.Pattern[str], name: str) -> str:
    if value is None or not rule.fullmatch(value):
        raise BadIdentity(f"{name} must be {_RULES[rule]}")
    return value


class Authenticator:
    def __init__(self, settings: MeshSettings) -> None:
        self._users: dict[str, Identity] = {}
        for pair in filter(None, (p.strip() for p in settings.tokens.split(","))):
            # The last `=`: a token may end in base64 padding, an identity has no `=`.
            token, _, who = pair.rpartition("=")
            tenant, _, user = who.partition(":")
            if not token or not tenant or not user:
                raise ValueError("MESH_TOKENS entries must look like token=tenant:user")
            self._users[token] = Identity(
                _checked(tenant, _TENANT, "MESH_TOKENS tenant"),
                _checked(user, _USER, "MESH_TOKENS user"),
            )
        self._service = settings.service_token

    @property
    def configured(self) -> bool:
        """Whether any token at all is accepted (without one Mesh refuses every call)."""
        return bool(self._service or self._users)

    def identify(self, request: Request) -> Identity:
        try:
            token = bearer_token(request.headers.getlist("authorization"))
        except BadAuthorization as exc:
            raise Unauthenticated(str(exc)) from exc
        if self._service and hmac.compare_digest(self._service.encode(), token.encode()):
            return Identity(
                _checked(request.headers.get(TENANT_HEADER), _TENANT, TENANT_HEADER),
                _checked(request.headers.get(USER_HEADER), _USER, USER_HEADER),
            )
        found: Identity | None = None
        for known, identity in self._users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = identity
        if found is None:
            raise Unauthenticated("invalid token")
        return found
