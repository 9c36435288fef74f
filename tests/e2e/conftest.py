"""One whole Pocket Agent for the end-to-end tests: a twin of the Pico 2 W board
with the firmware deployed, and the bridge with the pipeline (offline agent)
answering it (hil/stage.py). Started once, shared by the tests; each test
starts from the board's idle screen."""

import pytest

from pocket_agent.hil.stage import Stage

BOARD = "pico2w"


@pytest.fixture(scope="session")
def running_stage(tmp_path_factory):
    with Stage(BOARD, tmp_path_factory.mktemp("e2e")) as stage:
        yield stage


@pytest.fixture
def stage(running_stage):
    running_stage.wait_idle()
    running_stage.world.environment(temperature=21.5, humidity=45.0)
    return running_stage
