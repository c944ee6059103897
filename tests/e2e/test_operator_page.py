"""The operator page in Chromium, through the dev stack: an operator sees a live call, sends `say`,
and follows it to `processed`; the admin key never reaches the browser, and no other page (nor
the gateway's cookie) can use the admin function through it.

Set VOICEFLEET_SCREENSHOT_DIR (e.g. `docs`) to save the page as `operator.png` there.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, Response, expect
from playwright.async_api import Error as PlaywrightError
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from devstack.web import Page as BuiltPage
from harness.chromium import chromium
from harness.fake_openai import FakeOpenAI, Reply
from harness.speech import make_wav
from harness.stack import ADMIN_KEY, RunningStack
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status
from tests.support.servers import serving

pytestmark = pytest.mark.e2e


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not BuiltPage("operator").built:
        pytest.fail("the operator page is not built: run `npm ci && npm run build` in web/")
    async with chromium() as launched:
        yield launched


class Seen:
    """Every body the browser received, to search for secrets."""

    def __init__(self, page: Page) -> None:
        self.bodies: list[tuple[str, bytes]] = []
        page.on("response", self._record)

    async def _record(self, response: Response) -> None:
        try:
            self.bodies.append((response.url, await response.body()))
        except PlaywrightError:  # a redirect, or a load cut short, has no body to search
            return

    def containing(self, secret: str) -> list[str]:
        return [url for url, body in self.bodies if secret.encode() in body]


async def test_an_operator_sends_say_from_the_page_and_sees_it_processed(
    stack: RunningStack, browser: Browser
) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)  # the greeting is over
        session_id = call.session_id or ""

        page = await browser.new_page(viewport={"width": 1200, "height": 560})
        seen = Seen(page)
        opened = await page.goto(stack.admin_url + "/")
        assert opened is not None and opened.url == stack.admin_url + "/operator/"

        card = page.locator(f'[data-session="{session_id}"]')
        await expect(card.locator(".op-badge")).to_have_text("joined", timeout=10_000)
        await expect(card.locator(".op-runner")).not_to_have_text("—")
        # A warm runner took the call; the greeting has played, so every start-up span is in.
        start = card.locator(".op-start")
        await expect(start).to_have_text(re.compile(r"^warm (\d+ ms|\d+\.\d s)$"))
        await expect(start).to_have_attribute("title", re.compile(r"joined → first audio \d"))
        await expect(card).to_contain_text("webrtc")

        # A 422 from the API, named and marked next to the box.
        await card.locator('[data-part="text"]').fill("x" * 4001)
        await card.locator("button[type=submit]").click()
        await expect(card.locator(".op-error")).to_contain_text("message.text")
        await expect(card.locator('[data-part="text"]')).to_have_attribute("aria-invalid", "true")

        await card.locator('[data-part="text"]').fill("Heads up: the meeting moved to three.")
        await card.locator("button[type=submit]").click()
        sent = card.locator("li[data-message]")
        await expect(sent).to_have_count(1)
        await expect(sent).to_have_attribute("data-status", "processed", timeout=15_000)
        await expect(sent.locator(".op-trail")).to_have_text("queued → processing → processed")
        await expect(sent.locator(".op-summary")).to_have_text(
            "say: “Heads up: the meeting moved to three.”"
        )
        await expect(card.locator(".op-error")).to_be_empty()
        assert await call.wait_for_text("moved to three"), call.bot_texts()

        await card.locator('[data-part="kind"]').select_option("append_context")
        await expect(card.locator('[data-part="role"]')).to_be_visible()
        await card.locator('[data-part="text"]').fill("The caller prefers short answers.")
        await card.locator("button[type=submit]").click()
        await expect(sent).to_have_count(2)
        await expect(sent.first).to_have_attribute("data-status", "processed", timeout=15_000)
        await expect(sent.first).to_contain_text("append_context (system)")

        async with httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as api:
            record = (await api.get(f"/sessions/{session_id}")).json()
        assert [(m["type"], m["status"]) for m in record["admin_messages"]] == [
            ("say", "processed"),
            ("append_context", "processed"),
        ]

        # Opened again, the page shows what the bot has handled, from the session's record.
        await page.reload()
        await expect(sent).to_have_count(2)
        await expect(sent.last.locator(".op-summary")).to_have_text(
            "say: “Heads up: the meeting moved to three.”"
        )
        for item in (sent.first, sent.last):
            await expect(item).to_have_attribute("data-status", "processed")

        shots = os.environ.get("VOICEFLEET_SCREENSHOT_DIR")
        if shots:
            await page.set_viewport_size({"width": 1200, "height": 360})
            await page.screenshot(path=str(Path(shots) / "operator.png"), full_page=True)

        # The key is in nothing the browser got: the page, its script, the API's answers.
        assert seen.bodies and not seen.containing(ADMIN_KEY)
        assert not seen.containing(stack.api_key)
        assert await page.evaluate("document.cookie") == ""  # HttpOnly
        for name in ("index.html", "main.js", "main.css"):
            asset = await page.request.get(f"{stack.admin_url}/operator/{name}")
            assert asset.ok and ADMIN_KEY.encode() not in await asset.body(), name

        # The page follows the session to its end, and takes no more messages for it.
        await card.locator('[data-part="kind"]').select_option("end_session")
        await card.locator("button[type=submit]").click()
        await expect(sent).to_have_count(3)
        await expect(sent.first).to_have_attribute("data-status", "processed", timeout=15_000)
        await wait_status(stack, session_id, "ended", "failed", timeout_s=30)
        await expect(card.locator(".op-badge")).to_have_text("ended", timeout=10_000)
        await expect(card.locator(".op-reason")).to_have_text("ended by an admin message")
        await expect(card.locator("button[type=submit]")).to_be_disabled()


async def test_without_the_cookie_the_admin_api_answers_401(
    stack: RunningStack, browser: Browser
) -> None:
    async with httpx.AsyncClient(base_url=stack.admin_url) as anonymous:
        assert (await anonymous.get("/sessions")).status_code == 401
        assert (await anonymous.post("/admin", json={})).status_code == 401

    # A browser that has only visited the gateway's page holds the gateway's cookie, which
    # travels to every port of 127.0.0.1; it does not open the admin function.
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(stack.url + "/")
    assert [c["name"] for c in await context.cookies()] == ["voicefleet_dev"]
    listed = await page.goto(stack.admin_url + "/sessions")
    assert listed is not None and listed.status == 401
    await context.close()


def _attack_page(admin_url: str, session_id: str) -> str:
    """A page on another local port that asks the admin function to make the bot speak: with a
    `no-cors` fetch, and with a `text/plain` form whose `name=value` body reads as JSON."""
    say = {"session_id": session_id, "message": {"type": "say", "text": "pwned"}}
    body = json.dumps(say)
    name, rest = body.split("ned", 1)  # sent as name + "=" + value: the text becomes "pw=ned"
    return f"""<!doctype html><title>loading</title>
<form method="post" enctype="text/plain" action="{admin_url}/admin" target="sink">
<input name='{name}' value='ned{rest}'></form><iframe name="sink"></iframe>
<script>
fetch({json.dumps(admin_url + "/admin")}, {{method: "POST", mode: "no-cors",
  credentials: "include", body: {json.dumps(body)}}})
  .then(() => {{ document.forms[0].submit(); document.title = "sent"; }},
        (e) => {{ document.title = "failed: " + e; }});
</script>"""


async def test_another_local_page_cannot_use_the_operators_cookie(
    stack: RunningStack, browser: Browser
) -> None:
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        session_id = call.session_id or ""
        html = _attack_page(stack.admin_url, session_id)

        async def attacker(scope: Scope, receive: Receive, send: Send) -> None:
            await HTMLResponse(html)(scope, receive, send)

        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(stack.admin_url + "/")  # the operator has the page open: its cookie is set
        await expect(page.locator(f'[data-session="{session_id}"]')).to_be_visible()
        async with serving(attacker) as elsewhere:
            other = await context.new_page()
            form_post = other.expect_request_finished(
                lambda r: r.method == "POST" and r.frame != other.main_frame
            )
            async with form_post:  # the form's POST reached the admin function too
                await other.goto(elsewhere + "/")
                await expect(other).to_have_title("sent")
        await context.close()

        async with httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as api:
            record = (await api.get(f"/sessions/{session_id}")).json()
        assert record["admin_messages"] == []
        assert not await call.wait_for_text("pw", 1), call.bot_texts()


async def test_an_operator_reads_a_past_session_from_its_report(
    stack: RunningStack, browser: Browser, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    """History: a finished call is listed by date and outcome; opened, it shows both sides of
    the conversation, a bar per turn split by stage, and exports its report as JSON."""
    fake_llm.script.append(Reply(text="Your budget note is ready."))
    request = make_wav("Please make a budget note.", tmp_path / "request.wav")
    async with WebRTCCall(stack.url, api_key=stack.api_key) as call:
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)
        said_at = await call.say(request)
        assert await call.wait_for_audio_after(said_at, 30) < 30
        await call.wait_for_silence(1.0, 30)
        session_id = call.session_id or ""
    async with httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as api:
        for _ in range(300):
            if (await api.get(f"/sessions/{session_id}/report")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        report = (await api.get(f"/sessions/{session_id}/report")).json()

    page = await browser.new_page(viewport={"width": 1200, "height": 900})
    await page.goto(stack.admin_url + "/")
    listed = page.locator(f'[data-report="{session_id}"]')
    await expect(listed).to_contain_text("ended", timeout=15_000)
    await page.locator(".op-history-outcome").select_option("failed")
    await expect(listed).to_have_count(0)
    await page.locator(".op-history-outcome").select_option("ended")
    await listed.locator("button").click()

    detail = page.locator(f'[data-report-detail="{session_id}"]')
    await expect(detail.locator('[data-role="user"]')).to_contain_text("budget note")
    await expect(detail.locator('[data-role="bot"]').last).to_contain_text("budget note is ready")
    turns = detail.locator(".op-timeline li")
    await expect(turns).to_have_count(len(report["turns"]))
    stages = turns.first.locator(".op-stage")
    assert await stages.count() >= 2  # at least STT and the LLM's first token were measured
    await expect(stages.first).to_have_attribute("title", re.compile(r"^[A-Za-z ]+: \d+ ms$"))

    export = detail.locator(".op-history-export")
    await expect(export).to_have_attribute("download", f"session-{session_id}.json")
    async with page.expect_download() as downloading:
        await export.click()
    download = await downloading.value
    assert download.suggested_filename == f"session-{session_id}.json"
    saved = await download.path()
    assert json.loads(await asyncio.to_thread(Path(saved).read_text)) == report
