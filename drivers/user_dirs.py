"""The per-user folders of thermorig, in the platform's places.

- Data (``user_data_dir``): what a person adds and keeps, e.g. their own models —
  ``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux, ``~/Library/Application Support``
  on macOS, ``%LOCALAPPDATA%`` on Windows.
- Cache (``user_cache_dir``): files thermorig can always make again, kept to save time
  (the synthetic cameras' rays) — ``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
  ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows. Deleting it only makes
  the next start slower.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _user_dir(xdg_var: str, linux_default: Path, mac: Path) -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = mac
    else:
        xdg = os.environ.get(xdg_var, "")
        # XDG: a relative path is invalid and must be ignored.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else linux_default
    return base / "thermorig"


def user_data_dir() -> Path:
    """The per-user data folder (it need not exist)."""
    home = Path.home()
    return _user_dir(
        "XDG_DATA_HOME", home / ".local" / "share", home / "Library" / "Application Support"
    )


def user_cache_dir() -> Path:
    """The per-user cache folder (it need not exist)."""
    home = Path.home()
    return _user_dir("XDG_CACHE_HOME", home / ".cache", home / "Library" / "Caches")
