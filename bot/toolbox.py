"""Collects every tool, checks the LLM's arguments against each tool's schema, runs it.

The LLM's output is untrusted input: arguments are validated (types, required fields,
sizes, no unknown fields) before a handler runs, and every failure comes back to the LLM as
an `{"error": ...}` result it can explain, never as an exception that ends the call.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import jsonschema
from loguru import logger
from opentelemetry import trace
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.services.llm_service import FunctionCallParams, LLMService

from bot.actions import ActionError
from bot.eventbus import EventBus, ToolCalled
from bot.mesh_client import MeshError
from bot.tools.base import Result, Tool, ToolContext
from voicefleet.observability import tracing
from voicefleet.observability.metrics import TOOL_CALLS, TOOL_DURATION

TOOL_MODULES = (
    "bot.tools.notes",
    "bot.tools.applets",
    "bot.tools.profile",
    "bot.tools.interface",
    "bot.tools.clock",
    "bot.tools.call",
)
MAX_ARGUMENT_BYTES = 200_000


def all_tools() -> list[Tool]:
    tools: list[Tool] = []
    for module in TOOL_MODULES:
        tools += importlib.import_module(module).TOOLS
    names = [t.name for t in tools]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RuntimeError(f"tool names used twice: {sorted(duplicates)}")
    return tools


def argument_schema(tool: Tool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": tool.schema.properties,
        "required": tool.schema.required,
        "additionalProperties": False,
    }


class Toolbox:
    def __init__(self, ctx: ToolContext, *, bus: EventBus | None = None) -> None:
        self.ctx = ctx
        self._bus = bus
        # Tools that need the user's data are offered only when Mesh is configured.
        self.tools = {t.name: t for t in all_tools() if ctx.mesh is not None or not t.needs_mesh}
        self._validators = {
            name: jsonschema.Draft202012Validator(argument_schema(t))
            for name, t in self.tools.items()
        }

    def schema(self) -> ToolsSchema:
        return ToolsSchema(standard_tools=[t.schema for t in self.tools.values()])

    def register(self, llm: LLMService[Any]) -> None:
        for name in self.tools:
            llm.register_function(name, self._handle)

    async def _handle(self, params: FunctionCallParams) -> None:
        result = await self.call(params.function_name, dict(params.arguments or {}))
        await params.result_callback(result)

    async def call(self, name: str, arguments: dict[str, Any]) -> Result:
        started = time.perf_counter()
        # The LLM names the tool: only names the toolbox knows become label values.
        label = name if name in self.tools else "unknown"
        with tracing.tracer().start_as_current_span(
            f"tool {label}", attributes={"voicefleet.tool": label}
        ) as span:
            result = await self._run(name, arguments)
            if "error" in result:
                span.set_status(trace.StatusCode.ERROR, str(result["error"])[:200])
        duration_s = time.perf_counter() - started
        TOOL_DURATION.labels(tool=label).observe(duration_s)
        TOOL_CALLS.labels(tool=label, outcome="error" if "error" in result else "ok").inc()
        if self._bus is not None:
            tool = self.tools.get(name)
            await self._bus.publish(
                ToolCalled(
                    name=name,
                    arguments=arguments,
                    result=result,
                    duration_ms=duration_s * 1000,
                    private_arguments=tool is None or tool.private_arguments,
                )
            )
        return result

    async def _run(self, name: str, arguments: dict[str, Any]) -> Result:
        tool = self.tools.get(name)
        if tool is None:
            return {"error": f"there is no tool named {name!r}"}
        if len(json.dumps(arguments, default=str)) > MAX_ARGUMENT_BYTES:
            return {"error": "the arguments are too large"}
        problems = sorted(self._validators[name].iter_errors(arguments), key=lambda e: e.path)
        if problems:
            first = problems[0]
            where = ".".join(str(p) for p in first.path) or "arguments"
            return {"error": f"invalid arguments for {name}: {where}: {first.message}"}
        try:
            return await tool.handler(arguments, self.ctx)
        except (ActionError, MeshError) as exc:
            return {"error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a tool bug must not end the call
            logger.exception("tool {} failed", name)
            return {"error": f"{name} failed unexpectedly ({type(exc).__name__})"}
