"""The licence of every bundled model package, as its own files state it.

A lab that ships thermorig must know under which terms each network it carries may be
used. Converted third-party models say so in their JSON (``provenance.licence``, with
the licence text beside the file); models trained by thermorig on its own synthetic
data (``provenance.trained_by``) are thermorig's work, under thermorig's licence.
Read from the JSON alone — no ONNX file is loaded — so the About box opens at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from models.catalog import BUNDLED_DIR

#: What a model trained here is licensed under when the installed metadata is missing.
PROJECT_LICENCE = "MIT"


@dataclass(frozen=True)
class ModelLicence:
    """``name`` (the package's file stem), its ``licence`` and where that is stated."""

    name: str
    licence: str
    source: str


def project_licence() -> str:
    """thermorig's own licence, from the installed package's metadata."""
    try:
        return metadata.metadata("thermorig").get("License") or PROJECT_LICENCE
    except metadata.PackageNotFoundError:
        return PROJECT_LICENCE


def bundled_licences(folder: Path = BUNDLED_DIR) -> list[ModelLicence]:
    """One entry per model JSON under ``folder`` (sub-folders included), by name."""
    out = []
    for path in sorted(folder.rglob("*.json")):
        try:
            provenance = json.loads(path.read_text(encoding="utf-8")).get("provenance") or {}
        except (OSError, ValueError, AttributeError):
            out.append(ModelLicence(path.stem, "unknown (its JSON cannot be read)", str(path)))
            continue
        if provenance.get("licence"):
            licence = str(provenance["licence"])
        elif provenance.get("trained_by"):
            licence = f"{project_licence()} (trained by thermorig on synthetic data)"
        else:
            licence = "not stated in its JSON"
        out.append(ModelLicence(path.stem, licence, str(path)))
    return out
