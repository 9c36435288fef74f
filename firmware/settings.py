# What the board keeps across resets: its settings (brightness, volume,
# do-not-disturb). A power cut mid-write must leave the old settings or the
# new ones, never a broken file: LittleFS commits a file only when it is
# closed, and writing a temporary file then renaming it gives the same on FAT.
import json
import os

DEFAULTS = {"brightness": 100, "volume": 60, "dnd": False}  # as the drivers start


def replace_file(path, data):
    """Write `data` to `path` so that a reader sees all of it or none of it."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Settings:
    def __init__(self, path="/settings.json"):
        self.path = path
        self.values = dict(DEFAULTS)
        self.problem = None  # why the saved settings were not used, if they were not

    def load(self):
        try:
            os.remove(self.path + ".new")  # a write cut short: the old file is still whole
        except OSError:
            pass
        try:
            with open(self.path) as f:
                saved = json.load(f)
        except OSError:
            return self.values  # never saved: the defaults
        except ValueError:
            self.problem = "settings file unreadable; using defaults"
            return self.values
        for key in DEFAULTS:
            if key in saved and type(saved[key]) is type(DEFAULTS[key]):
                self.values[key] = saved[key]
        return self.values

    def set(self, key, value):
        """Change one setting and save it if it changed; True if it did."""
        if self.values.get(key) == value:
            return False
        self.values[key] = value
        replace_file(self.path, json.dumps(self.values).encode())
        return True
