"""Where the package's data files are: the source tree, else the installed share directory."""

from __future__ import annotations

import sys
from pathlib import Path


def config_dir() -> Path:
    """The parameter files: the source tree's ``config/``, else the installed share directory."""
    here = Path(__file__).resolve().parent.parent / "config"
    if here.is_dir():
        return here
    share = Path(sys.prefix) / "share" / "vlm_robot" / "config"
    if share.is_dir():
        return share
    raise FileNotFoundError(f"no config directory at {here} or {share}; reinstall vlm_robot")
