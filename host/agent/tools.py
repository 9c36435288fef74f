"""The tool registry both agents use (and the MCP server serves).

A tool is a name, a description, a JSON schema for its arguments and an async
handler. Consequential tools (send, order, delete) go through physical
confirmation before the handler runs. Every call lands in the action log, so the
log, not the model's words, says what ran.
"""

import datetime
import time
from dataclasses import dataclass, field

from .device import DeviceError

_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list}


@dataclass
class ToolResult:
    ok: bool
    text: str
    data: dict = field(default_factory=dict)
    status: str = "ran"  # ran | failed | denied | timeout | rejected | unpaired | invalid


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict
    handler: object
    consequential: bool = False
    device: bool = False  # one of the device's own capabilities
    summary: object = None  # args -> text the board shows when asking to confirm


@dataclass
class ToolContext:
    board: str
    device: object
    store: object
    confirmer: object
    clock: object = time.time

    def now(self):
        return datetime.datetime.fromtimestamp(self.clock())


class ToolArgumentError(ValueError):
    pass


def validate(schema, args):
    """Check arguments against the small subset of JSON schema our tools use."""
    if not isinstance(args, dict):
        raise ToolArgumentError("arguments must be an object")
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            raise ToolArgumentError(f"missing argument: {name}")
    for name, value in args.items():
        if name not in props:
            raise ToolArgumentError(f"unknown argument: {name}")
        spec = props[name]
        want = _TYPES.get(spec.get("type"))
        if want and (not isinstance(value, want) or (isinstance(value, bool) and spec.get("type") != "boolean")):
            raise ToolArgumentError(f"{name} must be {spec['type']}")
        if "enum" in spec and value not in spec["enum"]:
            raise ToolArgumentError(f"{name} must be one of {', '.join(map(str, spec['enum']))}")
        if "minimum" in spec and value < spec["minimum"] or "maximum" in spec and value > spec["maximum"]:
            raise ToolArgumentError(f"{name} out of range")


class Registry:
    def __init__(self, tools=()):
        self.tools = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool):
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name} registered twice")
        self.tools[tool.name] = tool

    def get(self, name):
        return self.tools.get(name)

    def names(self, device_only=False):
        return [n for n, t in self.tools.items() if t.device or not device_only]

    def openai_tools(self):
        """The tools in the chat-completions `tools` format."""
        return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                   "parameters": t.parameters}} for t in self.tools.values()]

    async def call(self, ctx, name, args):
        """Run a tool by name. Never raises for a bad call or a failing tool: returns a ToolResult."""
        tool = self.tools.get(name)
        if tool is None:
            ctx.store.log_action(ctx.board, str(name)[:60] or "?", {}, "invalid", detail="no such tool")
            return ToolResult(False, f"No tool named {name}.", status="invalid")
        try:
            validate(tool.parameters, args)
        except ToolArgumentError as exc:
            ctx.store.log_action(ctx.board, name, args if isinstance(args, dict) else {"raw": repr(args)},
                                 "invalid", detail=str(exc))
            return ToolResult(False, f"Bad call to {name}: {exc}", status="invalid")
        action_id = None
        if tool.consequential:
            outcome = await ctx.confirmer.confirm(ctx.device, ctx.board, name, args, tool.summary(args))
            if not outcome.approved:
                return ToolResult(False, outcome.message, {"approval": outcome.status}, status=outcome.status)
            action_id = outcome.action_id
        try:
            result = await tool.handler(ctx, **args)
        except (DeviceError, ValueError, LookupError, OSError) as exc:
            message = str(exc.message if isinstance(exc, DeviceError) else exc) or type(exc).__name__
            result = ToolResult(False, message[0].upper() + message[1:] + ".", status="failed")
        except Exception as exc:  # a tool bug must not end the session; it is logged and reported
            result = ToolResult(False, f"{name} failed: {type(exc).__name__}: {exc}", status="failed")
        if action_id is not None:
            ctx.confirmer.finished(action_id, result.ok, result.text)
        else:
            ctx.store.log_action(ctx.board, name, args, "ran" if result.ok else "failed", detail=result.text)
        return result
