"""What a tool is and what it gets to work with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema

from bot.actions import ActionError
from bot.actions.html import AppletWriter
from bot.forwarder import EventForwarder
from bot.mesh_client import MeshClient

Result = dict[str, Any]


@dataclass
class ToolContext:
    """One session's view of the world, handed to every tool call."""

    tenant: str
    user: str
    forwarder: EventForwarder
    mesh: MeshClient | None = None
    applet_writer: AppletWriter | None = None
    end_call: Callable[[str], Awaitable[None]] | None = None
    timezone: str = "UTC"

    def require_mesh(self) -> MeshClient:
        if self.mesh is None:
            raise ActionError("the user's data is not available in this session")
        return self.mesh


@dataclass(frozen=True)
class Tool:
    schema: FunctionSchema
    handler: Callable[[dict[str, Any], ToolContext], Awaitable[Result]]
    needs_mesh: bool = False
    # Arguments that must not leave the call (session reports record only the name).
    private_arguments: bool = False

    @property
    def name(self) -> str:
        return self.schema.name


def tool(
    name: str,
    description: str,
    properties: dict[str, Any] | None = None,
    required: list[str] | None = None,
    *,
    needs_mesh: bool = False,
    private_arguments: bool = False,
) -> Callable[[Callable[[dict[str, Any], ToolContext], Awaitable[Result]]], Tool]:
    """Declare a tool next to its handler."""

    def wrap(handler: Callable[[dict[str, Any], ToolContext], Awaitable[Result]]) -> Tool:
        schema = FunctionSchema(
            name=name,
            description=description,
            properties=properties or {},
            required=required or [],
        )
        return Tool(
            schema=schema,
            handler=handler,
            needs_mesh=needs_mesh,
            private_arguments=private_arguments,
        )

    return wrap
