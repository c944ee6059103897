"""The user's interface in a real browser, offline, through the whole dev stack: Chromium's fake
microphone speaks to the bot over WebRTC (Pipecat's JS client), the scripted LLM creates a note,
and the page shows it. Chromium here has no internet, so the page working is the offline proof;
the test also checks that it asked no other host for anything and never saw a key."""

from __future__ import annotations

import asyncio
import json
import os
import wave
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Response, expect

from harness.chromium import chromium, fake_microphone
from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import make_wav
from harness.stack import ADMIN_KEY, API_KEY, MESH_TOKEN, RunningStack

pytestmark = pytest.mark.e2e

GREETING_WAIT_S = 10.0  # the microphone stays silent while the bot greets
MUTED_LEAD_S = 8.0  # time enough to connect and press Mute before the words play
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SECRETS = (API_KEY, ADMIN_KEY, MESH_TOKEN)
# Set to a directory (e.g. docs) to keep the README's screenshot of the interface.
SCREENSHOTS = os.environ.get("VOICEFLEET_SCREENSHOTS")

# An applet that tries to reach the page, its cookies and the network, and reports back.
PROBE = """<!DOCTYPE html><html><body><p id="out">probing</p><script>
const result = {};
try { result.parent = String(parent.document.title); } catch (e) { result.parent = "blocked"; }
try { result.cookie = String(document.cookie); } catch (e) { result.cookie = "blocked"; }
try { result.storage = String(localStorage.length); } catch (e) { result.storage = "blocked"; }
fetch("/start", {method: "POST", body: "{}"}).then(
  () => "reached", () => "blocked"
).then((outcome) => {
  result.fetch = outcome;
  document.getElementById("out").textContent = JSON.stringify(result);
  parent.postMessage({probe: result}, "*");
});
</script></body></html>"""


def _speech(path: Path, lead_s: float = GREETING_WAIT_S) -> Path:
    """The request, after `lead_s` of silence (the greeting), as Chromium's microphone plays it."""
    spoken = make_wav("Create a note called meeting.", path.with_name("words.wav"), pad_s=1.0)
    with wave.open(str(spoken)) as source:
        rate, frames = source.getframerate(), source.readframes(source.getnframes())
    lead = np.zeros(int(rate * lead_s), dtype=np.int16).tobytes()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(lead + frames)
    return path


async def _mesh(
    stack: RunningStack, query: str, variables: dict[str, str] | None = None
) -> dict[str, object]:
    """The default user's Mesh, as another client of it would change it."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {MESH_TOKEN}"}) as mesh:
        answer = await mesh.post(
            stack.mesh_url, json={"query": query, "variables": variables or {}}
        )
    body = answer.json()
    assert answer.status_code == 200 and "errors" not in body, body
    return dict(body["data"])


async def _final_status(stack: RunningStack, session_id: str) -> str:
    async with httpx.AsyncClient(headers=stack.headers) as gateway:
        for _ in range(100):
            record = (await gateway.get(f"{stack.url}/sessions/{session_id}")).json()
            if record["status"] in ("ended", "failed"):
                return str(record["status"])
            await asyncio.sleep(0.1)
    return str(record["status"])


class Traffic:
    """Every request the page made, and the text of every answer it got."""

    def __init__(self, page: Page) -> None:
        self.hosts: set[str] = set()
        self.bodies: list[str] = []
        page.on("request", self._request)
        page.on("response", self._response)

    def _request(self, request: Request) -> None:
        if request.url.startswith(("http:", "https:", "ws:", "wss:")):
            self.hosts.add(urlsplit(request.url).hostname or "")

    async def _response(self, response: Response) -> None:
        try:
            self.bodies.append((await response.body()).decode("utf-8", "replace"))
        except PlaywrightError:  # a redirect, or an answer cut off as the page closed
            pass

    def leaked(self) -> list[str]:
        return [s for s in SECRETS if any(s in body for body in self.bodies)]


async def test_a_spoken_request_shows_up_in_the_interface(
    stack: RunningStack, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    await _mesh(stack, 'mutation { createNote(title: "groceries", content: "milk") { id } }')
    fake_llm.script += [
        Reply(tool_calls=[("bot_create_note", {"title": "meeting"})]),
        Reply(text="I've created your meeting note."),
    ]
    microphone = _speech(tmp_path / "request.wav")
    async with chromium(*fake_microphone(microphone)) as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        traffic = Traffic(page)
        await page.goto(stack.url + "/")
        assert urlsplit(page.url).path == "/app/"

        # State before any call: the user's notes, loaded from Mesh.
        notes = page.locator("#note-list .note-title")
        await expect(notes).to_have_text(["groceries"])

        await page.get_by_role("button", name="Connect").click()
        await expect(page.locator("#call-state")).to_have_text("Connected", timeout=30_000)
        # The greeting is heard: the page measures the bot's audio on its remote track.
        await page.wait_for_function(
            "() => document.getElementById('bot-level').value > 0.1", timeout=20_000
        )

        # Then the microphone asks for a note, and it appears without a reload.
        await expect(notes).to_have_text(["meeting", "groceries"], timeout=90_000)
        await expect(page.locator(".notice")).to_contain_text(["Note created: meeting"])
        await expect(page.locator(".turn-user .text").first).to_contain_text(
            "note called meeting", ignore_case=True
        )
        await expect(page.locator(".turn-bot .text")).to_have_text(
            ["I've created your meeting note."], timeout=30_000
        )
        await page.screenshot(path=str(tmp_path / "interface.png"))
        if SCREENSHOTS:
            await page.screenshot(path=str(Path(SCREENSHOTS) / "interface.png"))

        await page.get_by_role("tab", name="Settings").click()
        session_id = await page.locator("#settings-view dd").nth(2).inner_text()
        await page.get_by_role("button", name="Hang up").click()
        await expect(page.locator("#call-state")).to_have_text("Not connected", timeout=15_000)
        cookie = await page.evaluate("document.cookie")

    # Hanging up ended the session on the gateway too, not only the page's connection.
    assert await _final_status(stack, session_id) == "ended"

    assert traffic.hosts <= LOCAL_HOSTS, f"the page reached other hosts: {traffic.hosts}"
    assert not traffic.leaked(), "a key reached the browser"
    assert cookie == ""  # the dev cookie is HttpOnly: no script of the page can read it
    heard = " ".join(fake_llm.user_texts()).lower()
    assert "note called meeting" in heard, heard


async def test_a_muted_microphone_is_not_heard(
    stack: RunningStack, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    """Muted before the request is spoken, the bot hears nothing: no words, no turn, no tool."""
    microphone = _speech(tmp_path / "request.wav", lead_s=MUTED_LEAD_S)
    async with chromium(*fake_microphone(microphone)) as browser:
        page = await browser.new_page()
        await page.goto(stack.url + "/app/")
        await page.get_by_role("button", name="Connect").click()
        await expect(page.locator("#call-state")).to_have_text("Connected", timeout=30_000)
        mute = page.get_by_role("button", name="Mute")
        await mute.click()
        await expect(page.get_by_role("button", name="Unmute")).to_have_attribute(
            "aria-pressed", "true"
        )
        # The words play while muted; the bot would have transcribed them by the end of this.
        await page.wait_for_timeout((MUTED_LEAD_S + 8) * 1000)
        await expect(page.locator(".turn-user")).to_have_count(0)
        await page.get_by_role("button", name="Hang up").click()
    assert fake_llm.user_texts() == []


async def test_an_applet_cannot_reach_the_page_its_cookies_or_the_network(
    stack: RunningStack,
) -> None:
    await _mesh(
        stack,
        'mutation($html: String!) { createApplet(title: "Probe", html: $html) { id } }',
        {"html": PROBE},
    )

    async with chromium() as browser:
        page = await browser.new_page()
        traffic = Traffic(page)
        await page.goto(stack.url + "/app/")
        await page.evaluate(
            "window.probes = []; addEventListener('message', (e) => window.probes.push(e.data))"
        )
        await page.get_by_role("tab", name="Applets").click()
        await page.get_by_role("button", name="Probe").click()
        frame = page.frame_locator("iframe.applet-frame")
        await expect(frame.locator("#out")).not_to_have_text("probing", timeout=15_000)
        probes = await page.evaluate("window.probes")
        sandbox = await page.locator("iframe.applet-frame").get_attribute("sandbox")

    assert sandbox == "allow-scripts"
    assert probes == [
        {
            "probe": {
                "parent": "blocked",
                "cookie": "blocked",
                "storage": "blocked",
                "fetch": "blocked",
            }
        }
    ], json.dumps(probes)
    assert traffic.hosts <= LOCAL_HOSTS


async def test_a_daily_call_on_a_gateway_without_daily_says_why(stack: RunningStack) -> None:
    """The online path is chosen at connect time; offline, with no DAILY_API_KEY, the gateway
    refuses a `createDailyRoom` session and the page says so, without reaching for Daily."""
    async with chromium("--use-fake-ui-for-media-stream") as browser:
        page = await browser.new_page()
        traffic = Traffic(page)
        await page.goto(stack.url + "/app/")
        await page.get_by_label("Connect over").select_option("daily")
        await page.get_by_role("button", name="Connect").click()
        await expect(page.locator(".notice-error")).to_contain_text(
            "Daily is not configured", timeout=15_000
        )
        await expect(page.get_by_role("button", name="Connect")).to_be_enabled()
    assert traffic.hosts <= LOCAL_HOSTS, f"the page reached other hosts: {traffic.hosts}"
