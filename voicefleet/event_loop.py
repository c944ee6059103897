"""The event loop every voicefleet process runs on.

uvloop, as `uvicorn.run` would choose it. Measured here: on the default asyncio loop, an
HTTP response through a server started with `uvicorn.Server.serve()` reached its client
about 40 ms late (the headers/body writes met the client's delayed ACK); on uvloop it did not.
"""

from __future__ import annotations

import asyncio


def install() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
