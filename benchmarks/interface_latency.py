"""Connect to greeting in the browser: the interface in Chromium, through the whole local stack.

Times are taken in the page (`performance.now()`), from the Connect click: the gateway's answer to
`POST /start`, the bot's SDP answer, the transport reaching "ready" (data channel open, the bot's
RTVI bot-ready) and the greeting becoming audible on the page's level meter (the remote track,
measured in the page every 5 ms). One warm runner; each call on a fresh page.

    .venv/bin/python benchmarks/interface_latency.py --runs 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.chromium import chromium  # noqa: E402
from harness.stack import start_stack, stop_stack  # noqa: E402

# Installed in the page before the click: the moment of each state, and of the first audio.
WATCH = """() => {
  window.marks = {};
  const state = document.getElementById("call-state");
  new MutationObserver(() => {
    const now = state.dataset.state;
    if (!(now in window.marks)) window.marks[now] = performance.now();
  }).observe(state, { attributes: true });
  const level = document.getElementById("bot-level");
  const timer = setInterval(() => {
    if (level.value > 0.1) { window.marks.audible = performance.now(); clearInterval(timer); }
  }, 5);
  document.getElementById("connect").addEventListener(
    "click", () => { window.marks.click = performance.now(); }, { capture: true });
}"""
REQUESTS = """() => performance.getEntriesByType("resource")
  .filter((e) => e.name.endsWith("/start") || e.name.endsWith("/api/offer"))
  .map((e) => [e.name.endsWith("/start") ? "start" : "offer", e.responseEnd])"""
PHASES = ("start", "offer", "ready", "audible")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(round(q * (len(ordered) - 1)), len(ordered) - 1)]


async def one_call(browser: Any, url: str) -> dict[str, float]:
    page = await browser.new_page()
    try:
        await page.goto(url + "/app/")
        await page.wait_for_load_state("networkidle")
        await page.evaluate(WATCH)
        await page.get_by_role("button", name="Connect").click()
        await page.wait_for_function(
            "() => 'audible' in window.marks && 'ready' in window.marks", timeout=30_000
        )
        marks: dict[str, float] = await page.evaluate("() => window.marks")
        for name, end in await page.evaluate(REQUESTS):
            marks.setdefault(name, end)
        await page.get_by_role("button", name="Hang up").click()
        await page.wait_for_function(
            "() => document.getElementById('call-state').dataset.state === 'disconnected'"
        )
        return {phase: marks[phase] - marks["click"] for phase in PHASES}
    finally:
        await page.close()


async def series(runs: int) -> list[dict[str, float]]:
    stack = start_stack("--warm", "1", "--max", "1")
    flags = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    try:
        async with chromium(*flags) as browser:
            await one_call(browser, stack.url)  # warm-up: the page's first call
            results = []
            for _ in range(runs):
                await asyncio.sleep(1.0)  # the runner frees itself after a call
                results.append(await one_call(browser, stack.url))
            return results
    finally:
        stop_stack(stack)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    results = asyncio.run(series(parser.parse_args().runs))
    print(f"{'Connect click →':<28} {'p50':>8} {'p95':>8}   (n={len(results)})")
    labels = {
        "start": "POST /start answered",
        "offer": "SDP answer received",
        "ready": "ready (bot-ready)",
        "audible": "greeting audible",
    }
    for phase in PHASES:
        values = [r[phase] for r in results]
        print(
            f"{labels[phase]:<28} {statistics.median(values):6.0f} ms {pct(values, 0.95):6.0f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
