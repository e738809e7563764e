"""Loads the recorder beside a user's own locustfile: ``-f theirs.py,loadtests/attach.py``.

Always through ``loadtests.recorder``, the one module name, so a locustfile that
imports the recorder itself does not register it twice.
"""

import sys
from pathlib import Path

# `locust -f` puts this folder (not the repo) on sys.path
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from loadtests import recorder  # noqa: E402, F401
