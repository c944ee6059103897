"""HTML applets: written by the LLM from a description, saved in Mesh."""

from __future__ import annotations

import re
from typing import Any, Protocol

from openai import AsyncOpenAI, DefaultAsyncHttpxClient, OpenAIError

from bot import tls
from bot.actions import ActionError
from bot.actions.validation import TITLE_MAX, identifier, text
from bot.mesh_client import MeshClient

APPLET = "id title html createdAt updatedAt"
HTML_MAX = 500_000
_FENCE = re.compile(r"```(?:html)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_INSTRUCTIONS = (
    "Write one self-contained HTML document (inline CSS and JavaScript, no external files) "
    "for the applet described. Answer with the HTML only."
)


class AppletWriter(Protocol):
    async def write_html(self, description: str) -> str: ...


class LLMAppletWriter:
    """Asks the session's LLM (the same OpenAI-compatible server) for the HTML."""

    def __init__(self, *, api_key: str, base_url: str | None, model: str) -> None:
        # Every call makes one; the shared TLS context keeps that cheap (bot/tls.py).
        http = DefaultAsyncHttpxClient(verify=tls.openai_context())
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=60, http_client=http)
        self._model = model

    async def write_html(self, description: str) -> str:
        try:
            response = await self._client.chat.completions.create(
                model=self._model,
                messages=[
                    {"role": "system", "content": _INSTRUCTIONS},
                    {"role": "user", "content": description},
                ],
            )
        except OpenAIError as exc:
            raise ActionError(f"could not write the applet: {type(exc).__name__}") from exc
        return response.choices[0].message.content or ""


def clean_html(raw: str, title: str) -> str:
    """The HTML from an LLM answer: unfenced, and a whole document even if it wrote a part."""
    match = _FENCE.search(raw)
    html = (match.group(1) if match else raw).strip()
    if not html:
        raise ActionError("the applet came out empty")
    if "<html" not in html.lower():
        html = f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{html}</body></html>"
    if len(html) > HTML_MAX:
        raise ActionError("the applet is too large")
    return html


async def create_applet(
    mesh: MeshClient, writer: AppletWriter, title: object, description: object
) -> dict[str, Any]:
    title = text(title, "title", max_len=TITLE_MAX)
    description = text(description, "description", max_len=4000)
    html = clean_html(await writer.write_html(description), title)
    data = await mesh.execute(
        "mutation($title: String!, $html: String!) "
        f"{{ createApplet(title: $title, html: $html) {{ {APPLET} }} }}",
        {"title": title, "html": html},
    )
    return dict(data["createApplet"])


async def get_applet(mesh: MeshClient, applet_id: object) -> dict[str, Any]:
    data = await mesh.execute(
        f"query($id: ID!) {{ applet(id: $id) {{ {APPLET} }} }}",
        {"id": identifier(applet_id, "applet_id")},
    )
    if data.get("applet") is None:
        raise ActionError("there is no such applet")
    return dict(data["applet"])
