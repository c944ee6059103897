"""The TLS contexts a call's HTTP clients share, made once per process instead of per client.

Every new httpx client makes an `ssl.SSLContext` and loads the CA bundle into it: 38 ms of CPU
each on this machine (`load_verify_locations`). A call made three (the LLM's client, the
applet writer's, the Mesh transport's for the tenant's prompts), on the event loop, while the
client's ICE and DTLS wait on that same loop: a warm call's first audio came 80-120 ms later
than it needed to. A context is safe to share between clients and connections, so the runner
makes each kind once, in standby (`warm`), and every call's clients reuse it. A pod's zygote
makes them before it forks (memory only: no thread, no socket), so its slots inherit them.

Each context is the one its library would have made (httpx: certifi's bundle; openai's httpx2:
the system's), so which servers a client trusts does not change.
"""

from __future__ import annotations

import functools
import ssl

import httpx
import httpx2


@functools.cache
def openai_context() -> ssl.SSLContext:
    """What the openai package's clients (httpx2) verify servers with."""
    return httpx2.create_ssl_context()


@functools.cache
def httpx_context() -> ssl.SSLContext:
    """What an httpx client (the Mesh transport) verifies servers with."""
    return httpx.create_ssl_context()


def warm() -> None:
    """Make both now (blocking: in standby, before a call needs them)."""
    openai_context()
    httpx_context()
