"""Where models are found: the bundled ones and a per-user folder.

- Bundled: ``resources/models/`` of the thermorig checkout (trained by
  ``python -m models.training.train_bundled``).
- User: ``thermorig/models`` in the platform's data folder — ``$XDG_DATA_HOME`` or
  ``~/.local/share`` on Linux, ``~/Library/Application Support`` on macOS,
  ``%LOCALAPPDATA%`` on Windows. A user model with a bundled model's name wins, so a
  lab can replace a bundled model without touching the installation.

Listing loads every package (that is the check that it runs) and reports broken ones
beside the good ones instead of stopping at the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from drivers.user_dirs import user_data_dir
from models.errors import ModelError
from models.package import ModelPackage, load_package, package_paths

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "resources" / "models"

#: Names of the bundled thermal models (the preview's defaults).
BUNDLED_SEGMENTER = "thermal-calf-seg"
BUNDLED_KEYPOINTS = "thermal-legs-kp"


def user_models_dir() -> Path:
    """The per-user model folder (it need not exist)."""
    return user_data_dir() / "models"


def model_dirs() -> list[tuple[str, Path]]:
    """(origin, folder) in the order a name is looked up: user first, then bundled."""
    return [("user", user_models_dir()), ("bundled", BUNDLED_DIR)]


@dataclass
class CatalogEntry:
    """One package found in a model folder: loaded, or the one-line reason it is not."""

    name: str
    origin: str
    path: Path
    package: ModelPackage | None = None
    error: str = ""
    #: True when a user model of the same name hides this one.
    shadowed: bool = False


def _names_in(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    stems = {p.stem for p in folder.iterdir() if p.suffix.lower() in (".onnx", ".json")}
    return sorted(stems)


def list_models(threads: int | None = 1) -> list[CatalogEntry]:
    """Every package in the model folders, each loaded (or with its error)."""
    entries: list[CatalogEntry] = []
    seen: set[str] = set()
    for origin, folder in model_dirs():
        for name in _names_in(folder):
            onnx_path, _ = package_paths(folder / name)
            entry = CatalogEntry(name, origin, onnx_path, shadowed=name in seen)
            try:
                entry.package = load_package(onnx_path, threads=threads)
            except ModelError as exc:
                entry.error = str(exc)
            entries.append(entry)
            seen.add(name)
    return entries


def looks_like_path(spec: str) -> bool:
    return os.sep in spec or "/" in spec or spec.lower().endswith((".onnx", ".json"))


def find_model(spec: str | os.PathLike, threads: int | None = None) -> ModelPackage:
    """The package a ``--model`` value names: a path, or a name in the model folders."""
    text = str(spec)
    if looks_like_path(text) or Path(text).with_suffix(".onnx").is_file():
        return load_package(text, threads=threads)
    for _origin, folder in model_dirs():
        onnx_path, json_path = package_paths(folder / text)
        if onnx_path.is_file() or json_path.is_file():
            return load_package(onnx_path, threads=threads)
    known = sorted({n for _o, folder in model_dirs() for n in _names_in(folder)})
    raise ModelError(
        f"no model named '{text}'; known: {', '.join(known) or 'none'}"
        f" (see thermorig models), or give a path to NAME.onnx"
    )
