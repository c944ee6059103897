"""The built web pages (`web/`, bundled by `scripts/setup` into `static/`), as ASGI apps.

`app` is the user's interface, `operator` the admin function's page. A checkout without Node
has no bundle; the page then says how to build it instead of answering 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import PlainTextResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
PAGES = ("app", "operator")

NOT_BUILT = (
    "The web interface is not built. Install Node.js and run scripts/setup "
    "(or `npm ci && npm run build` in web/).\n"
)

# The pages are same-origin with the APIs they call, and load nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "frame-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


# The interface also talks to Daily when a user picks a Daily room (online only): its call
# bundle is a script from Daily's CDN (daily-js with avoidEval) and its signalling and media
# servers are under daily.co. Applets come from this origin (`/mesh/applets/…`) into a
# sandboxed frame, so frames need nothing else.
DAILY = "https://*.daily.co"
APP_CSP = (
    f"default-src 'self'; script-src 'self' {DAILY}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' blob: mediastream:; "
    f"connect-src 'self' {DAILY} wss://*.daily.co; worker-src 'self' blob:; frame-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_CSP = {"app": APP_CSP}


class Page:
    """One built page: its files, with a content security policy on every answer."""

    def __init__(self, name: str, static: Path = STATIC, csp: str = CSP) -> None:
        if name not in PAGES:
            raise ValueError(f"unknown page {name!r}; pages are {', '.join(PAGES)}")
        self.directory = static / name
        self._csp = csp.encode()
        self._files: StaticFiles | None = None

    @property
    def built(self) -> bool:
        return (self.directory / "index.html").is_file()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.built:
            await PlainTextResponse(NOT_BUILT, status_code=503)(scope, receive, send)
            return
        if self._files is None:
            self._files = StaticFiles(directory=self.directory, html=True)

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", self._csp))
                headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await self._files(scope, receive, send_with_policy)


def page(name: str) -> ASGIApp:
    return Page(name, csp=PAGE_CSP.get(name, CSP))
