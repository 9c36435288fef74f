"""Virtual boards running tests/link/board_app.py as main.py, deployed the way a
user would: mpremote copies the firmware's link modules and the app onto the
twin's flash. One deployed flash image is copied to further twins."""

import shutil
import subprocess
import sys
from pathlib import Path

from pocket_agent.tools.twin import launcher, state as twin_state

ROOT = Path(__file__).resolve().parents[2]
MPREMOTE = str(Path(sys.executable).parent / "mpremote")
FILES = ["firmware/link.py", "firmware/linkio.py", "firmware/adpcm.py", "firmware/approval.py"]


def deploy(twin):
    args = [MPREMOTE, "connect", twin.port]
    for f in FILES:
        args += ["fs", "cp", f, ":" + Path(f).name, "+"]
    args += ["fs", "cp", "tests/link/board_app.py", ":main.py"]
    r = subprocess.run(args, capture_output=True, timeout=120, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(f"mpremote deploy failed: {r.stderr.decode(errors='replace')}")


def start(state_dir, name, board="pico2w", image=None):
    """A twin whose main.py is board_app: copied from `image` (a flash file) or
    deployed with mpremote and then reset so main.py runs."""
    if image:
        st = twin_state.TwinState(name, state_dir)
        st.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, st.flash)
        return launcher.start(board, name=name, state_dir=state_dir)
    twin = launcher.start(board, name=name, state_dir=state_dir)
    try:
        deploy(twin)
        boots = twin.status()["boots"]
        twin.control("reset")
        twin.wait_port(boots=boots)
    except BaseException:
        twin.stop()
        raise
    return twin


def flash_image(twin):
    return twin_state.TwinState(twin.name, twin.state_dir).flash
