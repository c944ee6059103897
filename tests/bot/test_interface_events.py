"""The interface handles every event the bot can send: `web/src/app/events.ts` lists exactly the
names in `bot/interface_events.py`, and the router's handler table is typed by that list (so
`tsc` fails on a missing handler, and `web/test/app-router.test.ts` checks one handler per name)."""

from __future__ import annotations

import re
from pathlib import Path

from bot import interface_events

EVENTS_TS = Path(__file__).parents[2] / "web" / "src" / "app" / "events.ts"


def _python_names() -> set[str]:
    return {v for k, v in vars(interface_events).items() if k.isupper() and isinstance(v, str)}


def _typescript_names() -> set[str]:
    source = EVENTS_TS.read_text()
    block = re.search(r"EVENT_NAMES = \[(.*?)\] as const", source, re.DOTALL)
    assert block, f"no EVENT_NAMES list in {EVENTS_TS}"
    return set(re.findall(r'"([^"]+)"', block.group(1)))


def test_every_bot_event_has_an_interface_handler() -> None:
    python = _python_names()
    assert python, "bot/interface_events.py names no events"
    typescript = _typescript_names()
    assert not python - typescript, f"events the interface does not handle: {python - typescript}"
    assert not typescript - python, f"events the bot never sends: {typescript - python}"
