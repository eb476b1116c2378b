"""The cluster scripts' Python helpers (hack/cluster/*.py) run as plain scripts; tests import them by path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack" / "cluster"))
