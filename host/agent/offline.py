"""The offline agent: understood requests become tool calls, and tool results become the answer.

No network. The grammar (grammar.py) says what it understands; each intent maps
to one tool call through the shared registry, so the answer on the screen is
the tool's own account of what it did.
"""

import re
from dataclasses import dataclass, field

from .grammar import grammar
from .screen import fit
from .toolset import next_clock

NOT_CAUGHT = "Sorry, I didn't\ncatch that."
HELP = ("Try: time, timers,\nalarms, reminders,\nnotes, shopping list,\n\"is it stuffy\", sums,\n"
        "conversions, volume,\nbrightness, messages.")


@dataclass
class Reply:
    text: str  # fitted to the screen
    speech: str
    intent: str = None
    tools: list = field(default_factory=list)  # [(tool name, status)]
    ok: bool = True


def _speech(text):
    """Screen text -> something espeak reads well."""
    t = re.sub(r":\n", ": ", text)
    t = re.sub(r"\n- ", ", ", t).replace("\n", ". ").replace(" C,", " degrees,").replace(" C.", " degrees.")
    t = t.replace("%", " percent")
    t = re.sub(r"(\d+) min\b", r"\1 minutes", t)
    t = re.sub(r"(\d+) h\b", r"\1 hours", t)
    t = re.sub(r"(\d+) s\b", r"\1 seconds", t)
    return re.sub(r"\.\s*\.", ".", t).strip()


class OfflineAgent:
    name = "offline"

    def __init__(self, registry):
        self.registry = registry
        self.grammar = grammar()

    async def reply(self, ctx, text, on_text=None):
        intent = self.grammar.parse(text or "")
        if intent is None:
            answer = Reply(NOT_CAUGHT, "Sorry, I didn't catch that.", None, [], ok=False)
        else:
            answer = await self._handle(ctx, intent)
        if on_text:
            await on_text(answer.text)
        return answer

    async def _run(self, ctx, intent, tool, prefix="", **args):
        result = await self.registry.call(ctx, tool, args)
        text = fit(prefix + result.text)
        return Reply(text, _speech(prefix + result.text), intent.name, [(tool, result.status)], result.ok)

    def _say(self, intent, text):
        return Reply(fit(text), _speech(text), intent.name, [])

    async def _handle(self, ctx, intent):
        s, name = intent.slots, intent.name
        if name == "cancel":
            return self._say(intent, "OK.")
        if name in ("help", "greeting"):
            return self._say(intent, ("Hi! " if name == "greeting" else "") + HELP)
        if name == "time":
            result = await self.registry.call(ctx, "get_time", {})
            return Reply(fit(result.text), "It is " + result.data.get("time", ""), name, [("get_time", result.status)])
        if name == "date":
            result = await self.registry.call(ctx, "get_time", {})
            now = ctx.now()
            return Reply(fit(now.strftime("%A\n%d %B %Y")), now.strftime("It is %A, %B %d"), name,
                         [("get_time", result.status)])
        if name == "timer_set":
            args = {"seconds": s["duration"], "kind": "timer"}
            if s.get("label"):
                args["label"] = s["label"]
            return await self._run(ctx, intent, "set_timer", **args)
        if name in ("timer_list", "alarm_list"):
            return await self._run(ctx, intent, "list_timers", kind=name.split("_")[0])
        if name in ("timer_cancel", "alarm_cancel"):
            return await self._run(ctx, intent, "cancel_timers", kind=name.split("_")[0])
        if name == "alarm_set":
            hour, minute, half = s["clock"]
            due = next_clock(ctx.now(), hour, minute, half)
            return await self._run(ctx, intent, "set_alarm", hour=due.hour, minute=due.minute)
        if name == "reminder_add":
            if "duration" in s:
                seconds = s["duration"]
            else:
                hour, minute, half = s["clock"]
                now = ctx.now()
                seconds = round((next_clock(now, hour, minute, half) - now).total_seconds())
            return await self._run(ctx, intent, "add_reminder", text=s["text"], seconds=max(1, seconds))
        if name == "reminder_list":
            return await self._run(ctx, intent, "list_reminders")
        if name == "note_add":
            return await self._run(ctx, intent, "add_note", text=s["text"])
        if name == "note_list":
            return await self._run(ctx, intent, "list_notes")
        if name in ("note_read", "note_delete"):
            tool = "read_note" if name == "note_read" else "delete_note"
            return await self._run(ctx, intent, tool, which=self._which(intent))
        if name == "shopping_add":
            return await self._run(ctx, intent, "add_shopping_item", item=s["item"])
        if name == "shopping_remove":
            return await self._run(ctx, intent, "remove_shopping_item", item=s["item"])
        if name == "shopping_list":
            return await self._run(ctx, intent, "list_shopping")
        if name == "shopping_clear":
            return await self._run(ctx, intent, "clear_shopping")
        if name == "air":
            return await self._run(ctx, intent, "check_air")
        if name in ("temperature", "humidity", "pressure", "battery"):
            return await self._sensor(ctx, intent)
        if name == "calculate":
            return await self._run(ctx, intent, "calculate", expression=s["expression"])
        if name == "convert":
            return await self._run(ctx, intent, "convert_units", amount=s["number"], source=s["source"],
                                   target=s["target"])
        if name in ("brightness", "volume"):
            return await self._level(ctx, intent)
        if name == "dnd":
            return await self._run(ctx, intent, "change_setting", name="dnd",
                                   value=s["switch"] in ("on", "enable"))
        if name == "message":
            return await self._run(ctx, intent, "send_message", recipient=s["name"], body=s["text"])
        if name == "order":
            return await self._run(ctx, intent, "place_order", item=s["item"])
        if name == "device_info":
            return await self._run(ctx, intent, "device_info")
        raise AssertionError(f"intent {name} has no handler")

    @staticmethod
    def _which(intent):
        if "number" in intent.slots:
            return str(int(intent.slots["number"]))
        for word in ("all", "last", "latest", "newest", "first", "oldest"):
            if f" {word} " in f" {intent.text} ":
                return word
        return "last"

    async def _sensor(self, ctx, intent):
        result = await self.registry.call(ctx, "read_sensors", {})
        key, label, unit = {"temperature": ("temperature_c", "It is", " C"),
                            "humidity": ("humidity_pct", "Humidity", "%"),
                            "pressure": ("pressure_hpa", "Pressure", " hPa"),
                            "battery": ("battery_pct", "Battery", "%")}[intent.name]
        if not result.ok:
            return Reply(fit(result.text), _speech(result.text), intent.name, [("read_sensors", result.status)], False)
        if key not in result.data:
            text = f"This board has no\n{intent.name} reading."
            return Reply(fit(text), _speech(text), intent.name, [("read_sensors", result.status)], False)
        value = result.data[key]
        shown = f"{value:.1f}" if intent.name == "temperature" else f"{value:.0f}"
        text = f"{label} {shown}{unit}" + (" inside." if intent.name == "temperature" else ".")
        spoken = text.replace(" C ", " degrees ").replace(" C.", " degrees.").replace("%", " percent")
        return Reply(fit(text), spoken, intent.name, [("read_sensors", result.status)])

    async def _level(self, ctx, intent):
        s, name = intent.slots, intent.name
        current = ctx.store.setting(ctx.board, name, 50)
        if "level" in s:
            value = s["level"]
        elif s.get("mute") == "mute":
            ctx.store.set_setting(ctx.board, "volume_before_mute", current)
            value = 0
        elif s.get("mute") == "unmute":
            value = ctx.store.setting(ctx.board, "volume_before_mute", 50) or 50
        else:
            step = 20 if s["direction"] in ("up", "brighter", "louder", "higher") else -20
            value = current + step
        return await self._run(ctx, intent, "change_setting", name=name, value=int(value))


def describe(intent):
    """A short human description of a parsed intent (for `pocket agent parse`)."""
    if intent is None:
        return "not understood"
    slots = ", ".join(f"{k}={v}" for k, v in intent.slots.items())
    return f"{intent.name}({slots})"

