"""Map each top-level folder to a subpackage of pocket_agent.

The repository keeps the layout a newcomer expects (firmware/, host/, tools/ ...),
while site-packages only ever gets the one name `pocket_agent`.
"""

import os

from setuptools import setup

FOLDERS = ["boards", "firmware", "host", "models", "tools", "hil"]


def _packages():
    package_dir = {"pocket_agent": "pocket_agent"}
    for folder in FOLDERS:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if not d.startswith((".", "__"))]
            if "__init__.py" in files:
                package_dir["pocket_agent." + root.replace(os.sep, ".")] = root
    return package_dir


PACKAGE_DIR = _packages()
setup(packages=sorted(PACKAGE_DIR), package_dir=PACKAGE_DIR)
