"""The tools themselves: device capabilities and the offline agent's tasks.

Each handler does the work and returns a ToolResult whose text is what the
screen shows; the text only ever describes what the handler actually did.
"""

import datetime

from . import calc, numbers
from .screen import fit
from .tools import Registry, Tool, ToolResult

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NUM = {"type": "number"}


def _schema(required=(), **props):
    return {"type": "object", "properties": props, "required": list(required)}


def _fmt_num(value):
    return calc.format_number(value)


# ---------------------------------------------------------------- device tools


async def read_sensors(ctx):
    values = await ctx.device.read_sensors()
    parts = []
    if "temperature_c" in values:
        parts.append(f"Temp {values['temperature_c']:.1f} C")
    if "humidity_pct" in values:
        parts.append(f"Humidity {values['humidity_pct']:.0f}%")
    if "pressure_hpa" in values:
        parts.append(f"Pressure {values['pressure_hpa']:.0f} hPa")
    if "co2_ppm" in values:
        parts.append(f"CO2 {values['co2_ppm']:.0f} ppm")
    if "battery_pct" in values:
        parts.append(f"Battery {values['battery_pct']:.0f}%")
    return ToolResult(True, "\n".join(parts) or "No sensor readings.", values)


async def show_text(ctx, text):
    shown = fit(text)
    await ctx.device.show_text(shown)
    return ToolResult(True, shown, {"shown": shown})


async def notify(ctx, text, level="info"):
    await ctx.device.notify(fit(text, rows=4), level)
    return ToolResult(True, f"Notified: {text}")


async def play_tone(ctx, freq_hz, duration_ms):
    await ctx.device.play_tone(freq_hz, duration_ms)
    return ToolResult(True, f"Played {freq_hz} Hz for {duration_ms} ms.")


async def set_led(ctx, color):
    await ctx.device.set_led(color)
    return ToolResult(True, f"LED {color}.")


async def ask_confirmation(ctx, question):
    outcome = await ctx.confirmer.confirm(ctx.device, ctx.board, "ask_confirmation", {"question": question}, question)
    if outcome.approved:
        ctx.confirmer.finished(outcome.action_id, True, "user said yes")
    answer = "yes" if outcome.approved else outcome.status
    return ToolResult(True, f"User answered: {answer}.", {"answer": answer})


async def device_info(ctx):
    info = await ctx.device.device_info()
    return ToolResult(True, "\n".join(f"{k}: {v}" for k, v in info.items()), info)


async def set_timer(ctx, seconds, label="", kind="timer"):
    if seconds <= 0 or seconds > 7 * 86400:
        raise ValueError("a timer runs from 1 second to 7 days")
    label = label or ("Timer" if kind == "timer" else kind.capitalize())
    timer_id = ctx.store.add_timer(ctx.board, kind, label, seconds)
    await ctx.device.set_timer(timer_id, seconds, label, kind)
    ends = (ctx.now() + datetime.timedelta(seconds=seconds)).strftime("%H:%M")
    head = "Timer set" if kind == "timer" else f"{kind.capitalize()} set"
    name = f" ({label})" if label not in ("Timer", kind.capitalize()) else ""
    return ToolResult(True, f"{head}{name}:\n{numbers.duration_short(seconds)}, ends {ends}",
                      {"timer_id": timer_id, "ends": ends})


# ---------------------------------------------------------------- time


async def get_time(ctx):
    now = ctx.now()
    return ToolResult(True, now.strftime("%H:%M\n%A\n%d %B %Y"),
                      {"time": now.strftime("%H:%M"), "date": now.strftime("%Y-%m-%d"), "weekday": now.strftime("%A")})


async def list_timers(ctx, kind="timer"):
    rows = ctx.store.active_timers(ctx.board, kind)
    if not rows:
        return ToolResult(True, f"No {kind}s set.", {"timers": []})
    now = ctx.clock()
    lines = []
    for r in rows:
        if kind == "alarm":
            lines.append(datetime.datetime.fromtimestamp(r["due"]).strftime("%a %H:%M"))
        else:
            lines.append(f"{r['label'][:10]}: {numbers.duration_short(int(r['due'] - now))} left")
    return ToolResult(True, "\n".join(lines), {"timers": [dict(id=r["id"], label=r["label"], due=r["due"]) for r in rows]})


async def cancel_timers(ctx, kind="timer"):
    rows = ctx.store.active_timers(ctx.board, kind)
    for r in rows:
        await ctx.device.cancel_timer(r["id"])
        ctx.store.cancel_timer(ctx.board, r["id"])
    if not rows:
        return ToolResult(True, f"No {kind}s to cancel.", {"cancelled": 0})
    return ToolResult(True, f"Cancelled {len(rows)} {kind}{'s' if len(rows) > 1 else ''}.", {"cancelled": len(rows)})


def next_clock(now, hour, minute, half=None):
    """The next time the clock shows hour:minute (either half of the day when am/pm was not said)."""
    hours = [hour] if half or hour == 0 or hour > 12 else [hour % 12, hour % 12 + 12]
    best = None
    for h in hours:
        t = now.replace(hour=h, minute=minute, second=0, microsecond=0)
        if t <= now:
            t += datetime.timedelta(days=1)
        best = t if best is None or t < best else best
    return best


async def set_alarm(ctx, hour, minute=0):
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError("not a time of day")
    now = ctx.now()
    due = next_clock(now, hour, minute, half="24h")
    seconds = round((due - now).total_seconds())
    timer_id = ctx.store.add_timer(ctx.board, "alarm", due.strftime("Alarm %H:%M"), seconds)
    await ctx.device.set_timer(timer_id, seconds, due.strftime("Alarm %H:%M"), "alarm")
    return ToolResult(True, f"Alarm set:\n{due.strftime('%a %H:%M')}\nin {numbers.duration_short(seconds)}",
                      {"timer_id": timer_id, "due": due.isoformat(timespec="minutes")})


async def add_reminder(ctx, text, seconds):
    if seconds <= 0:
        raise ValueError("a reminder needs a time in the future")
    due = ctx.clock() + seconds
    timer_id = ctx.store.add_timer(ctx.board, "reminder", text, seconds)
    await ctx.device.set_timer(timer_id, seconds, text, "reminder")
    ctx.store.add_reminder(ctx.board, text, due, timer_id)
    when = datetime.datetime.fromtimestamp(due).strftime("%a %H:%M")
    return ToolResult(True, f"Reminder set for\n{when}:\n{text}", {"due": when})


async def list_reminders(ctx):
    rows = ctx.store.reminders(ctx.board)
    if not rows:
        return ToolResult(True, "No reminders.", {"reminders": []})
    lines = [datetime.datetime.fromtimestamp(r["due"]).strftime("%H:%M ") + r["text"] for r in rows]
    return ToolResult(True, "\n".join(lines), {"reminders": [r["text"] for r in rows]})


# ---------------------------------------------------------------- notes


def _pick(rows, which):
    """'last', 'first' or a 1-based position -> the row, or raise LookupError."""
    if not rows:
        raise LookupError("there are no notes")
    if which in ("last", "latest", "newest"):
        return rows[-1]
    if which in ("first", "oldest"):
        return rows[0]
    try:
        n = int(which)
    except ValueError:
        raise LookupError(f"no note {which}") from None
    if not 1 <= n <= len(rows):
        raise LookupError(f"no note {n}: there {'is' if len(rows) == 1 else 'are'} {len(rows)}")
    return rows[n - 1]


async def add_note(ctx, text):
    ctx.store.add_note(ctx.board, text)
    count = len(ctx.store.notes(ctx.board))
    return ToolResult(True, f"Note {count} saved:\n{text}", {"number": count})


async def list_notes(ctx):
    rows = ctx.store.notes(ctx.board)
    if not rows:
        return ToolResult(True, "No notes.", {"notes": []})
    lines = [f"{i}. {r['text']}" for i, r in enumerate(rows, 1)]
    return ToolResult(True, f"{len(rows)} note{'s' if len(rows) > 1 else ''}:\n" + "\n".join(lines),
                      {"notes": [r["text"] for r in rows]})


async def read_note(ctx, which="last"):
    rows = ctx.store.notes(ctx.board)
    row = _pick(rows, which)
    return ToolResult(True, f"Note {rows.index(row) + 1}:\n{row['text']}", {"text": row["text"]})


async def delete_note(ctx, which="last"):
    rows = ctx.store.notes(ctx.board)
    if which == "all":
        n = ctx.store.delete_all_notes(ctx.board)
        return ToolResult(True, f"Deleted {n} note{'s' if n != 1 else ''}.", {"deleted": n})
    row = _pick(rows, which)
    ctx.store.delete_note(ctx.board, row["id"])
    return ToolResult(True, f"Deleted note {rows.index(row) + 1}:\n{row['text']}", {"deleted": 1})


def _delete_note_summary(args):
    return "Delete all notes?" if args.get("which") == "all" else f"Delete note {args.get('which', 'last')}?"


# ---------------------------------------------------------------- shopping


async def add_item(ctx, item):
    ctx.store.add_item(ctx.board, item)
    return ToolResult(True, f"Added to shopping:\n{item}", {"items": [r["item"] for r in ctx.store.items(ctx.board)]})


async def list_items(ctx):
    rows = ctx.store.items(ctx.board)
    if not rows:
        return ToolResult(True, "Shopping list is empty.", {"items": []})
    lines = [("- " + r["item"]) + (f" x{r['quantity']}" if r["quantity"] > 1 else "") for r in rows]
    return ToolResult(True, "Shopping:\n" + "\n".join(lines), {"items": [r["item"] for r in rows]})


async def remove_item(ctx, item):
    if not ctx.store.remove_item(ctx.board, item):
        return ToolResult(False, f"{item} is not on\nthe shopping list.", status="failed")
    return ToolResult(True, f"Removed {item}\nfrom shopping.")


async def clear_items(ctx):
    n = ctx.store.clear_items(ctx.board)
    return ToolResult(True, f"Shopping list cleared\n({n} item{'s' if n != 1 else ''}).", {"removed": n})


# ---------------------------------------------------------------- sensors


def air_verdict(values):
    """'is it stuffy': CO2 when the board has it, else warmth and humidity."""
    co2 = values.get("co2_ppm")
    t, rh = values.get("temperature_c"), values.get("humidity_pct")
    if co2 is not None:
        if co2 >= 1400:
            return True, f"Stuffy: CO2 {co2:.0f} ppm.\nOpen a window."
        if co2 >= 1000:
            return True, f"Getting stuffy:\nCO2 {co2:.0f} ppm."
        return False, f"Air is fresh:\nCO2 {co2:.0f} ppm."
    if t is None or rh is None:
        raise LookupError("the board reports no temperature or humidity")
    reading = f"{t:.1f} C, {rh:.0f}% humidity"
    if (t >= 24 and rh >= 60) or rh >= 70:
        return True, f"Stuffy: {reading}.\nOpen a window."
    if t >= 26:
        return True, f"Warm: {reading}.\nAir it out?"
    return False, f"Not stuffy:\n{reading}."


async def check_air(ctx):
    values = await ctx.device.read_sensors()
    stuffy, text = air_verdict(values)
    return ToolResult(True, text, {"stuffy": stuffy, **values})


# ---------------------------------------------------------------- maths


async def calculate(ctx, expression):
    value = calc.evaluate(expression)
    return ToolResult(True, f"{expression} =\n{_fmt_num(value)}", {"result": value})


async def convert_units(ctx, amount, source, target):
    value, a, b = calc.convert(amount, source, target)
    return ToolResult(True, f"{_fmt_num(amount)} {a} =\n{_fmt_num(value)} {b}", {"result": value, "unit": b})


# ---------------------------------------------------------------- settings


async def change_setting(ctx, name, value):
    if name in ("brightness", "volume"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} is a number from 0 to 100")
        value = max(0, min(100, int(round(value))))
        await ctx.device.set_setting(name, value)
        ctx.store.set_setting(ctx.board, name, value)
        return ToolResult(True, f"{name.capitalize()} {value}%.", {name: value})
    if name == "dnd":
        value = bool(value)
        await ctx.device.set_setting("dnd", value)
        ctx.store.set_setting(ctx.board, "dnd", value)
        return ToolResult(True, f"Do not disturb {'on' if value else 'off'}.", {"dnd": value})
    raise ValueError(f"no setting called {name}")


# ---------------------------------------------------------------- outbox


async def send_message(ctx, recipient, body):
    entry = ctx.store.add_outbox(ctx.board, "message", recipient, body, "queued", None)
    return ToolResult(True, f"Message to {recipient.title()}\nqueued in outbox:\n{body}", {"outbox_id": entry})


async def place_order(ctx, item):
    entry = ctx.store.add_outbox(ctx.board, "order", None, item, "queued", None)
    return ToolResult(True, f"Order queued\nin outbox:\n{item}", {"outbox_id": entry})


def build_registry():
    """Every tool, device tools first."""
    t = Tool
    return Registry([
        t("read_sensors", "Read the device's sensors: temperature, humidity, pressure, battery.", _schema(),
          read_sensors, device=True),
        t("show_text", "Show text on the device's 21x8 character screen.", _schema(["text"], text=_STR),
          show_text, device=True),
        t("notify", "Alert the user on the device (text, LED, tone).",
          _schema(["text"], text=_STR, level={"type": "string", "enum": ["info", "warning", "alarm"]}), notify, device=True),
        t("play_tone", "Play a tone on the device's speaker.",
          _schema(["freq_hz", "duration_ms"], freq_hz={"type": "integer", "minimum": 50, "maximum": 8000},
                  duration_ms={"type": "integer", "minimum": 10, "maximum": 5000}), play_tone, device=True),
        t("set_led", "Set the device's LED: 'off', a colour name or #rrggbb.", _schema(["color"], color=_STR),
          set_led, device=True),
        t("ask_confirmation", "Ask the user a yes/no question on the device; they answer with the button.",
          _schema(["question"], question=_STR), ask_confirmation, device=True),
        t("set_timer", "Start a countdown that fires on the device even without the host.",
          _schema(["seconds"], seconds={"type": "integer", "minimum": 1}, label=_STR,
                  kind={"type": "string", "enum": ["timer", "alarm", "reminder"]}), set_timer, device=True),
        t("device_info", "Describe the device: board, firmware, screen.", _schema(), device_info, device=True),
        t("get_time", "The current local time and date.", _schema(), get_time),
        t("list_timers", "List running timers or alarms.",
          _schema(kind={"type": "string", "enum": ["timer", "alarm"]}), list_timers),
        t("cancel_timers", "Cancel all timers or all alarms.",
          _schema(kind={"type": "string", "enum": ["timer", "alarm"]}), cancel_timers),
        t("set_alarm", "Set an alarm for the next time the clock shows hour:minute (24-hour).",
          _schema(["hour"], hour={"type": "integer", "minimum": 0, "maximum": 23},
                  minute={"type": "integer", "minimum": 0, "maximum": 59}), set_alarm),
        t("add_reminder", "Remind the user of something after a number of seconds (fires on the device).",
          _schema(["text", "seconds"], text=_STR, seconds={"type": "integer", "minimum": 1}), add_reminder),
        t("list_reminders", "List pending reminders.", _schema(), list_reminders),
        t("add_note", "Save a note.", _schema(["text"], text=_STR), add_note),
        t("list_notes", "List the saved notes, numbered from 1.", _schema(), list_notes),
        t("read_note", "Read one note: 'last', 'first' or its number as text.", _schema(which=_STR), read_note),
        t("delete_note", "Delete a note ('last', 'first', a number as text, or 'all'). Needs the user's button press.",
          _schema(which=_STR), delete_note, consequential=True, summary=_delete_note_summary),
        t("add_shopping_item", "Add an item to the shopping list.", _schema(["item"], item=_STR), add_item),
        t("list_shopping", "Read the shopping list.", _schema(), list_items),
        t("remove_shopping_item", "Remove an item from the shopping list.", _schema(["item"], item=_STR), remove_item),
        t("clear_shopping", "Empty the shopping list. Needs the user's button press.", _schema(), clear_items,
          consequential=True, summary=lambda a: "Clear the shopping list?"),
        t("check_air", "Is the room stuffy? Judged from CO2, or temperature and humidity.", _schema(), check_air),
        t("calculate", "Evaluate arithmetic said in words or symbols, e.g. 'twelve times seven'.",
          _schema(["expression"], expression=_STR), calculate),
        t("convert_units", "Convert an amount between units of length, mass, volume, speed, time or temperature.",
          _schema(["amount", "source", "target"], amount=_NUM, source=_STR, target=_STR), convert_units),
        t("change_setting", "Change a device setting: brightness or volume (0-100), dnd (true/false).",
          {"type": "object", "properties": {"name": {"type": "string", "enum": ["brightness", "volume", "dnd"]},
                                            "value": {}}, "required": ["name", "value"]}, change_setting, device=True),
        t("send_message", "Queue a message to a contact in the outbox. Needs the user's button press.",
          _schema(["recipient", "body"], recipient=_STR, body=_STR), send_message, consequential=True,
          summary=lambda a: f"Send to {str(a['recipient']).title()}:\n{a['body']}"),
        t("place_order", "Queue an order in the outbox. Needs the user's button press.",
          _schema(["item"], item=_STR), place_order, consequential=True, summary=lambda a: f"Order:\n{a['item']}"),
    ])
