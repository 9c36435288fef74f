# Wall time from the host's clock_set, kept against ticks_ms; and the timers
# the host sets, which fire here, host or no host.
from time import ticks_diff

_REBASE_MS = 3600000  # re-anchor hourly so ticks never get near their wrap


class Clock:
    def __init__(self):
        self.base = 0  # unix ms at base_ticks; 0: never set
        self.base_ticks = 0
        self.offset_min = 0

    def set(self, unix_s, ms, offset_min, now):
        self.base = unix_s * 1000 + ms
        self.base_ticks = now
        self.offset_min = offset_min

    @property
    def known(self):
        return self.base != 0

    def unix(self, now):
        """Unix seconds now (0 if the clock was never set)."""
        if not self.base:
            return 0
        d = ticks_diff(now, self.base_ticks)
        if d > _REBASE_MS:
            self.base += d
            self.base_ticks = now
            d = 0
        return (self.base + d) // 1000


class Timers:
    """tid -> (due unix s, kind, label). take() hands back what is due."""

    def __init__(self, limit=32):
        self.items = {}
        self.limit = limit
        # Ids that fired lately: a host back from away may sync a timer again before
        # the board's report of its firing reaches it; it must not ring twice.
        self.fired = [None] * 8
        self._next = 0

    def set(self, tid, due, kind, label):
        if tid in self.fired:
            return
        if tid not in self.items and len(self.items) >= self.limit:
            raise ValueError("too many timers (at most %d)" % self.limit)
        self.items[tid] = (due, kind, label)

    def cancel(self, tid):
        self.items.pop(tid, None)

    def clear(self):
        self.items.clear()

    def take(self, tid):
        """Remove a timer that fires now: (due, kind, label)."""
        self.fired[self._next] = tid
        self._next = (self._next + 1) % len(self.fired)
        return self.items.pop(tid)

    def due(self, unix):
        """The id of one timer that is due now, or None."""
        if unix:
            for tid in self.items:
                if self.items[tid][0] <= unix:
                    return tid
        return None
