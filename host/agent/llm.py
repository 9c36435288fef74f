"""The LLM agent: any OpenAI-compatible chat-completions endpoint, with streaming and tool calls.

OpenAI, Ollama, llama.cpp's server and vLLM all speak this API; base URL, model
and key come from the environment or a config file. The same tool registry as
the offline agent is offered, device tools included; consequential tools still
need the button. When the endpoint is unreachable, or no key is configured, the
offline agent answers and the screen says why.
"""

import asyncio
import json
import os
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .offline import Reply, _speech
from .screen import fit

SYSTEM_PROMPT = (
    "You are the assistant inside a pocket-sized device with a 21x8 character screen. "
    "Answer in at most 6 short lines, plain ASCII, no markdown. Use the tools to act; "
    "never say something was done unless a tool call did it. Tools that send, order or "
    "delete ask the user to press the device's button; if they decline, say nothing was done."
)
_CLAIM = re.compile(
    r"\b(done|sent|ordered|saved|deleted|scheduled|queued|added|i(?:'ve| have) (?:set|added|sent|saved|ordered|"
    r"deleted|created|scheduled|turned)|(?:is|has been|have been) (?:set|added|sent|saved|ordered|deleted|created|"
    r"scheduled|turned))\b", re.I)


_NEGATION = re.compile(r"\b(not|nothing|no|never|cannot|can't|couldn't|didn't|wasn't|won't|isn't|haven't|hasn't)\b|n't\b", re.I)


def claims_action(text):
    """Does the text say something was done? ("nothing was sent" does not.)"""
    for m in _CLAIM.finditer(text):
        before = " ".join(text[:m.start()].split()[-3:])
        if not _NEGATION.search(before + " " + m.group(0)):
            return True
    return False


def config_path():
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "pocket-agent" / "agent.toml"


@dataclass(frozen=True)
class LLMSettings:
    base_url: str = None  # None: the SDK's default (OpenAI)
    model: str = "gpt-4o-mini"
    api_key: str = field(default=None, repr=False)  # never printed
    timeout_s: float = 20.0
    max_tool_rounds: int = 4
    memory_messages: int = 12  # per board: user and assistant turns kept

    @classmethod
    def load(cls, env=None, path=None):
        """Config file [llm] table, then POCKET_LLM_* (or OPENAI_*) environment variables on top."""
        import tomllib

        env = os.environ if env is None else env
        values = {}
        path = Path(path) if path else config_path()
        if path.exists():
            with open(path, "rb") as f:
                values.update(tomllib.load(f).get("llm", {}))
        for name, keys in (("base_url", ("POCKET_LLM_BASE_URL", "OPENAI_BASE_URL")),
                           ("model", ("POCKET_LLM_MODEL",)),
                           ("api_key", ("POCKET_LLM_API_KEY", "OPENAI_API_KEY")),
                           ("timeout_s", ("POCKET_LLM_TIMEOUT",))):
            for key in keys:
                if env.get(key):
                    values[name] = env[key]
                    break
        if "timeout_s" in values:
            values["timeout_s"] = float(values["timeout_s"])
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def configured(self):
        return bool(self.api_key)


class LLMUnavailable(Exception):
    pass


class LLMAgent:
    name = "llm"

    def __init__(self, settings, registry, offline, client=None):
        self.settings = settings
        self.registry = registry
        self.offline = offline
        self._client = client
        self.memory = {}

    def client(self):
        if self._client is None:
            import openai

            self._client = openai.AsyncOpenAI(base_url=self.settings.base_url, api_key=self.settings.api_key,
                                              timeout=self.settings.timeout_s, max_retries=0)
        return self._client

    def _memory(self, board):
        return self.memory.setdefault(board, deque(maxlen=self.settings.memory_messages))

    async def reply(self, ctx, text, on_text=None):
        if not self.settings.configured:
            return await self._fallback(ctx, text, on_text, "No LLM key set:\noffline agent.",
                                        "no key: set POCKET_LLM_API_KEY")
        turn = _Turn()
        try:
            return await asyncio.wait_for(self._converse(ctx, text, on_text, turn),
                                          self.settings.timeout_s * (self.settings.max_tool_rounds + 1))
        except (LLMUnavailable, asyncio.TimeoutError) as exc:
            why = str(exc) or "timed out"
            if turn.ran:
                # never redo work: the tools that ran stay the answer
                done = ", ".join(turn.ran)
                msg = f"LLM lost ({why}).\nRan: {done}"
                if on_text:
                    await on_text(fit(msg))
                return Reply(fit(msg), _speech(msg), "llm", turn.tools, ok=False)
            return await self._fallback(ctx, text, on_text, "LLM unreachable:\noffline agent.", why)

    async def _fallback(self, ctx, text, on_text, notice, why):
        answer = await self.offline.reply(ctx, text)
        shown = fit(notice + "\n" + answer.text)
        if on_text:
            await on_text(shown)
        return Reply(shown, answer.speech, answer.intent, answer.tools, answer.ok)

    async def _converse(self, ctx, text, on_text, turn):
        import openai

        memory = self._memory(ctx.board)
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, *memory, {"role": "user", "content": text}]
        for _ in range(self.settings.max_tool_rounds + 1):
            try:
                content, calls = await self._stream_once(messages, on_text, turn)
            except openai.AuthenticationError as exc:
                raise LLMUnavailable("key rejected") from exc
            except (openai.APIConnectionError, openai.APITimeoutError) as exc:
                raise LLMUnavailable("unreachable") from exc
            except openai.APIStatusError as exc:
                raise LLMUnavailable(f"HTTP {exc.status_code}") from exc
            except openai.APIError as exc:
                raise LLMUnavailable(f"bad response: {type(exc).__name__}") from exc
            if not calls:
                final = self._final_text(content, turn)
                if on_text:
                    await on_text(final)
                memory.append({"role": "user", "content": text})
                memory.append({"role": "assistant", "content": content})
                said = " ".join(content.split()) if final == fit(content.strip()) else _speech(final)
                return Reply(final, said, "llm", turn.tools, ok=not turn.problems)
            messages.append({"role": "assistant", "content": content or None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls]})
            for call in calls:
                result = await self._run_tool(ctx, call, turn)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
        final = fit("Stopped: the model\nkept calling tools." + ("\nRan: " + ", ".join(turn.ran) if turn.ran else ""))
        if on_text:
            await on_text(final)
        return Reply(final, _speech(final), "llm", turn.tools, ok=False)

    async def _stream_once(self, messages, on_text, turn):
        stream = await self.client().chat.completions.create(
            model=self.settings.model, messages=messages, tools=self.registry.openai_tools(), stream=True,
            timeout=self.settings.timeout_s)
        content, calls = "", {}
        async for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta
            if delta.content:
                content += delta.content
                if self._claims_without_action(content, turn):
                    turn.held = True
                if on_text and not turn.held:
                    await on_text(fit(content))
            for tc in delta.tool_calls or []:
                acc = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                if tc.id:
                    acc["id"] = tc.id
                if tc.function is not None:
                    acc["name"] += tc.function.name or ""
                    acc["arguments"] += tc.function.arguments or ""
        ordered = [calls[i] for i in sorted(calls)]
        for n, c in enumerate(ordered):
            c["id"] = c["id"] or f"call_{n}"
        return content, ordered

    @staticmethod
    def _claims_without_action(text, turn):
        return not turn.ran and claims_action(text)

    def _final_text(self, content, turn):
        content = (content or "").strip()
        if self._claims_without_action(content, turn):
            # the screen never says "done" unless a tool call did it
            return fit("No action was taken." + ("\n" + turn.problems[-1] if turn.problems else ""))
        if not content:
            return fit(turn.problems[-1] if turn.problems else "(no answer)")
        return fit(content)

    async def _run_tool(self, ctx, call, turn):
        name = call["name"]
        try:
            args = json.loads(call["arguments"] or "{}")
        except json.JSONDecodeError as exc:
            problem = f"Bad tool call from\nthe model: {name}"
            turn.problems.append(problem)
            turn.tools.append((name, "invalid"))
            ctx.store.log_action(ctx.board, name or "?", {"raw": call["arguments"][:200]}, "invalid",
                                 detail=f"arguments not JSON: {exc.msg}")
            return {"ok": False, "error": f"arguments were not valid JSON ({exc.msg}); send a JSON object"}
        result = await self.registry.call(ctx, name, args)
        turn.tools.append((name, result.status))
        if result.ok:
            turn.ran.append(name)
        elif result.status in ("invalid", "failed"):
            turn.problems.append(fit(result.text))
        return {"ok": result.ok, "status": result.status, "result": result.text, **_jsonable(result.data)}


class _Turn:
    def __init__(self):
        self.ran = []  # tools that completed
        self.tools = []  # (name, status) for every call
        self.problems = []
        self.held = False  # streaming paused: the text claimed an action none ran


def _jsonable(data):
    try:
        json.dumps(data)
        return data
    except (TypeError, ValueError):
        return {k: str(v) for k, v in data.items()}
