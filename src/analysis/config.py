"""Project paths, in one place (no ``os.chdir`` or ``../`` anywhere else)."""

from __future__ import annotations

from pathlib import Path

PROJ_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJ_ROOT / "data"
NOTEBOOKS_DIR = PROJ_ROOT / "notebooks"
REPORTS_DIR = PROJ_ROOT / "reports"

#: The dataset ``make report`` renders when nothing else is named.
DEFAULT_DATASET = "online_retail"
