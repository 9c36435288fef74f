import asyncio
import datetime

import pytest

from pocket_agent.host.agent.session import AgentSession
from pocket_agent.host.agent.simdevice import SimulatedDevice
from pocket_agent.host.agent.store import Store
from pocket_agent.host.confirm import Confirmer, Keyring

# a fixed, known moment: Tuesday 10 March 2026, 09:15:00 local time
START = datetime.datetime(2026, 3, 10, 9, 15, 0).timestamp()


class Clock:
    def __init__(self, t=START):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, seconds):
        self.t += seconds


class Rig:
    """A session over a simulated, paired device with a controllable clock."""

    def __init__(self, tmp_path, button="approve", sensors=None, llm=None):
        self.clock = Clock()
        self.store = Store(tmp_path / "agent.sqlite3", clock=self.clock)
        self.keyring = Keyring(tmp_path / "keys")
        self.device = SimulatedDevice(button=button, sensors=sensors, clock=self.clock)
        self.confirmer = Confirmer(self.store, self.keyring, clock=self.clock, ttl_s=30)
        asyncio.run(self.confirmer.pair(self.device, self.device.board))
        self.session = AgentSession(self.device, self.store, self.confirmer, llm=llm, clock=self.clock)

    def ask(self, text):
        return asyncio.run(self.session.ask(text))

    def actions(self, tool=None):
        return [a for a in self.store.actions(self.device.board) if tool is None or a["tool"] == tool]


@pytest.fixture
def rig(tmp_path):
    return Rig(tmp_path)


@pytest.fixture
def make_rig(tmp_path):
    return lambda **kw: Rig(tmp_path, **kw)
