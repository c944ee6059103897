"""Debian's Chromium driven by Playwright, headless and offline-quiet, for the browser tests and
the interface benchmark."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

CHROMIUM = "/usr/bin/chromium"
# The machine has no internet: without these Chromium keeps dialling Google's services.
QUIET = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def fake_microphone(wav: Path) -> list[str]:
    """Flags that grant the microphone and make it play `wav` once, then silence."""
    return [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
    ]


@asynccontextmanager
async def chromium(*flags: str) -> AsyncIterator[Browser]:
    executable = shutil.which(CHROMIUM) or shutil.which("chromium")
    if executable is None:
        raise RuntimeError("Chromium is not installed (CI installs Debian's chromium package)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=[*QUIET, *flags]
        )
        try:
            yield browser
        finally:
            await browser.close()
