"""An operator talks to a running bot through the admin function: it speaks, then it leaves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from harness.fake_openai import FakeOpenAI, Reply
from harness.stack import MESH_TOKEN, RunningStack
from harness.webrtc import WebRTCCall
from tests.e2e.test_launch_path import wait_status

pytestmark = pytest.mark.e2e


async def _message_status(
    admin: httpx.AsyncClient, message_id: str, timeout_s: float = 10
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        message: dict[str, Any] = (await admin.get(f"/admin/messages/{message_id}")).json()
        if message["status"] not in ("queued", "processing") or time.monotonic() > deadline:
            return message
        await asyncio.sleep(0.05)


async def test_an_admin_say_is_heard_and_end_session_ends_the_call(stack: RunningStack) -> None:
    async with (
        WebRTCCall(stack.url, api_key=stack.api_key) as call,
        httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as admin,
    ):
        await call.wait_for_audio(10)
        await call.wait_for_silence(0.8)  # the greeting is over
        session_id = call.session_id or ""

        listed = (await admin.get("/sessions")).json()["sessions"]
        assert session_id in [s["session_id"] for s in listed]

        posted_at = time.perf_counter()
        sent = await admin.post(
            "/admin",
            json={
                "session_id": session_id,
                "message": {"type": "say", "text": "Heads up: the meeting moved to three."},
            },
        )
        assert sent.status_code == 202, sent.text
        assert await call.wait_for_audio_after(posted_at, 15) < 15
        assert await call.wait_for_text("moved to three"), call.bot_texts()
        said = await _message_status(admin, sent.json()["id"])
        assert (said["status"], said["session_id"]) == ("processed", session_id)

        await call.wait_for_silence(0.8)
        bye = await admin.post(
            "/admin", json={"session_id": session_id, "message": {"type": "end_session"}}
        )
        assert bye.status_code == 202, bye.text
        ended = await wait_status(stack, session_id, "ended", "failed", timeout_s=30)
        assert (ended["status"], ended["reason"]) == ("ended", "ended by an admin message")

        assert await call.wait_for_text("Goodbye"), call.bot_texts()
        record = (await admin.get(f"/sessions/{session_id}")).json()
        assert [(m["type"], m["status"]) for m in record["admin_messages"]] == [
            ("say", "processed"),
            ("end_session", "processed"),
        ]
        gone = (await admin.get("/sessions")).json()["sessions"]
        assert session_id not in [s["session_id"] for s in gone]


async def test_update_prompts_brings_the_tenants_new_personality_into_the_running_call(
    stack: RunningStack, fake_llm: FakeOpenAI
) -> None:
    fake_llm.script.append(Reply(text="Ahoy! Noted."))
    async with (
        WebRTCCall(stack.url, api_key=stack.api_key) as call,
        httpx.AsyncClient(base_url=stack.admin_url, headers=stack.admin_headers) as admin,
        httpx.AsyncClient(headers={"Authorization": f"Bearer {MESH_TOKEN}"}) as mesh,
    ):
        await call.wait_for_audio(10)
        session_id = call.session_id or ""
        changed = await mesh.post(
            stack.mesh_url,
            json={"query": 'mutation { setPersonality(instructions: "Talk like a pirate.") '
                           "{ instructions } }"},
        )  # fmt: skip
        assert "errors" not in changed.json(), changed.text
        for message in (
            {"type": "update_prompts"},
            {"type": "append_context", "role": "user", "content": "Remember my parrot."},
        ):
            sent = await admin.post("/admin", json={"session_id": session_id, "message": message})
            assert sent.status_code == 202, sent.text
            done = await _message_status(admin, sent.json()["id"])
            assert done["status"] == "processed", done
        assert await call.wait_for_text("Ahoy", 15), call.bot_texts()

    asked = fake_llm.requests[-1]["messages"]
    assert asked[0]["role"] == "system" and "Talk like a pirate." in asked[0]["content"]
    assert any(m.get("content") == "Remember my parrot." for m in asked)
