"""The installed thermorig's version, for the provenance written into files (exports,
repaired sessions); in ``drivers``, the lowest layer, so that every layer can use it."""

from __future__ import annotations

from importlib import metadata


def thermorig_version() -> str:
    """The version pip installed, or "unknown" when run from a plain source tree."""
    try:
        return metadata.version("thermorig")
    except metadata.PackageNotFoundError:
        return "unknown"
