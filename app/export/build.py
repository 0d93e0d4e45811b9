"""Export reviewed labels for training: 16-bit PNGs, indexed masks, COCO, a manifest.

Layout of the export folder ``DIR`` (``<name>`` = ``<session>_<row:06d>``, the row
being the frame's position in the session's stream)::

    DIR/manifest.json                  provenance: versions, command, inputs, every frame
    DIR/<split>/images/<name>.png      the raw frame: thermal as 16-bit centikelvin, the
                                       session's exact uint16 values
    DIR/<split>/previews/<name>.png    8-bit colour-mapped view, one °C window per session
    DIR/<split>/masks/<name>.png       (png) indexed PNG: pixel = class id, 255 unlabeled
    DIR/annotations_<split>.json       (coco) COCO with RLE masks (:mod:`app.export.coco`)

Only frames whose review status is one of the chosen ones are exported. Splits are by
subject or session (:mod:`app.export.split`), never by frame. The export is built in
a staging folder beside ``DIR`` and renamed to ``DIR`` in one step at the end: a
failure or Ctrl-C leaves no ``DIR`` and no staging folder, and an existing non-empty
``DIR`` is never touched. Sessions and label files are only read.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from app.display import THERMAL_MAPS, colormap_lut
from app.export.coco import CocoSplit, annotate
from app.export.files import imwrite, preview, sha256, write_json, write_mask
from app.export.inputs import (
    DEFAULT_STATUSES,
    ExportError,
    ExportInput,
    check_out,
    open_inputs,
)
from app.export.split import SplitRule
from app.labels.sidecar import SOURCE_NAMES, STATUS_NAMES
from drivers import stop_request
from drivers.stop_request import Interrupted
from drivers.truth import UNKNOWN_LABEL
from drivers.types import centikelvin_to_celsius
from drivers.version import thermorig_version

FORMATS = ("png", "coco")
MANIFEST_FORMAT = "thermorig-export"
#: Frames sampled per session for its preview window (percentiles over all of them).
_WINDOW_SAMPLES = 8


def parse_formats(text: str) -> tuple[str, ...]:
    """``png``, ``coco`` or ``png,coco``."""
    names = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ExportError(
            f"unknown format {', '.join(bad) or repr(text)}; choose png, coco or png,coco"
        )
    return names


@dataclass
class ExportOptions:
    formats: tuple[str, ...] = ("png",)
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    split: SplitRule = field(default_factory=SplitRule)
    stream: str = "thermal"
    colormap: str = THERMAL_MAPS[0]
    #: The command line that made the export, for the manifest.
    command: str = ""


@dataclass
class ExportSummary:
    out: Path
    frames: int
    sessions: int
    counts: dict[str, dict[str, int]]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "out": str(self.out),
            "frames": self.frames,
            "sessions": self.sessions,
            "counts": self.counts,
            "seconds": round(self.seconds, 2),
        }


@stop_request.deferred()
def export(
    sessions: list[Path],
    labels: list[Path],
    out: Path,
    opts: ExportOptions,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the export folder ``out`` (see the module docstring); a stop signal ends
    it between two frames, leaving no ``out`` and no staging folder."""
    t0 = time.perf_counter()
    out = Path(out)
    check_out(out)
    items = open_inputs(
        sessions, labels, stream=opts.stream, statuses=opts.statuses, split=opts.split
    )
    try:
        total = sum(len(it.rows) for it in items)
        if total == 0:
            raise ExportError(
                f"no {opts.stream} frame has status {', '.join(opts.statuses)}; review the"
                " labels first, or choose others with --status"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
        staging.mkdir()
        try:
            manifest = _write_all(items, staging, opts, total, progress)
            write_json(staging / "manifest.json", manifest)
            check_out(out)  # Taken while we worked? Then leave it alone.
            os.replace(staging, out)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, Interrupted):
                exc.outcome = f"no export written to {out}"
            raise
    finally:
        for it in items:
            it.close()
    return ExportSummary(out, total, len(items), manifest["counts"], time.perf_counter() - t0)


def _write_all(
    items: list[ExportInput],
    root: Path,
    opts: ExportOptions,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> dict:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    parts = [export_session(it, root, opts, step) for it in items]
    split_names = list(dict.fromkeys([*opts.split.names, *(it.split for it in items)]))
    return assemble(parts, root, split_names, items[0].labels.classes, opts)


def export_session(
    it: ExportInput, root: Path, opts: ExportOptions, step: Callable[[], None] | None = None
) -> dict:
    """Write one session's frames into the export folder ``root``; returns its part of
    the manifest (and its COCO frames, not numbered yet) for :func:`assemble`. Used
    by export and, one task per session, by ``thermorig batch export``."""
    classes = it.labels.classes
    lut = colormap_lut(opts.colormap)  # RGB; imwrite stores colour PNGs as RGB
    window = _window(it, opts.stream)
    timestamps, indices = it.session.timestamps(opts.stream), it.session.indices(opts.stream)
    frames, coco = [], []
    for row in it.rows:
        stop_request.check()  # Ctrl-C, SIGTERM: the staging folder is removed
        row = int(row)
        entry, annotated = _write_frame(it, row, root, lut, window, opts, classes)
        entry.update(
            session=it.key,
            frame=row,
            frame_index=int(indices[row]),
            timestamp=float(timestamps[row]),
            status=_name(STATUS_NAMES, it.status[row]),
            source=_name(SOURCE_NAMES, it.source[row]),
            split=it.split,
        )
        frames.append(entry)
        coco.append(annotated)
        if step is not None:
            step()
    return {"session": _session_entry(it, window, opts), "frames": frames, "coco": coco}


def assemble(
    parts: list[dict], root: Path, split_names: list[str], classes: list[str], opts: ExportOptions
) -> dict:
    """Number the COCO images and annotations of every split in session order, write
    the annotation files into ``root`` and return the manifest."""
    info = {
        "description": "thermorig export",
        "version": thermorig_version(),
        "date_created": _now(),
    }
    coco = {s: CocoSplit(classes, info) for s in split_names} if "coco" in opts.formats else {}
    frames = []
    for part in parts:
        for entry, annotated in zip(part["frames"], part["coco"], strict=True):
            if entry["split"] in coco:
                entry["coco_image_id"] = coco[entry["split"]].add_annotated(annotated)
            frames.append(entry)
    for name, split in coco.items():
        write_json(root / f"annotations_{name}.json", split.to_dict())
    return _manifest([p["session"] for p in parts], frames, split_names, classes, opts)


def _write_frame(
    it: ExportInput,
    row: int,
    root: Path,
    lut: np.ndarray,
    window: tuple[float, float],
    opts: ExportOptions,
    classes: list[str],
) -> tuple[dict, dict | None]:
    image = it.session.frame(opts.stream, row).array
    mask = it.labels.mask(opts.stream, row)
    hist = np.bincount(mask.ravel(), minlength=256)
    bad = [c for c in np.flatnonzero(hist) if c >= len(classes) and c != UNKNOWN_LABEL]
    if bad:
        raise ExportError(
            f"{it.labels_path}: {opts.stream} frame {row} holds class id {int(bad[0])}, which"
            f" is not one of its {len(classes)} classes (0..{len(classes) - 1}) or 255"
            " (unlabeled); fix the label file"
        )
    name = f"{it.key}_{row:06d}.png"
    entry = {
        "image": imwrite(root, f"{it.split}/images/{name}", image),
        "preview": imwrite(root, f"{it.split}/previews/{name}", preview(image, lut, window)),
    }
    if "png" in opts.formats:
        entry["mask"] = write_mask(root, f"{it.split}/masks/{name}", mask, len(classes))
    annotated = None
    if "coco" in opts.formats:
        entry["coco_image_id"] = None  # numbered by assemble, in session order
        extra = {"session": it.key, "frame": row}
        annotated = annotate(classes, mask, hist, entry["image"], extra)
    return entry, annotated


def _window(it: ExportInput, stream: str) -> tuple[float, float]:
    """One display window per session (1st–99th percentile of a few exported frames),
    so previews of one session are comparable; in the stream's raw units."""
    picks = np.linspace(0, len(it.rows) - 1, _WINDOW_SAMPLES).astype(int) if len(it.rows) else []
    samples = []
    for row in dict.fromkeys(int(it.rows[k]) for k in picks):
        array = it.session.frame(stream, row).array
        if array.ndim == 2:
            samples.append(array[:: max(1, array.shape[0] // 64), :: max(1, array.shape[1] // 64)])
    if not samples:
        return 0.0, 255.0
    lo, hi = np.percentile(np.concatenate([s.ravel() for s in samples]), (1.0, 99.0))
    return float(lo), float(max(hi, lo + 1.0))


def _name(names, value) -> str:
    v = int(value)
    return names[v] if 0 <= v < len(names) else f"unknown({v})"


def _session_entry(it: ExportInput, window: tuple[float, float], opts: ExportOptions) -> dict:
    spec = it.session.streams[opts.stream]
    view = {"colormap": opts.colormap, "window": list(window)}
    if spec.units == "centikelvin":
        view["window_celsius"] = [round(centikelvin_to_celsius(v), 3) for v in window]
    return {
        "key": it.key,
        "path": str(it.session_path.absolute()),
        "session_hash": it.session_hash,
        "labels": str(it.labels_path.absolute()),
        "labels_sha256": sha256(it.labels_path),
        "classes": it.labels.classes,
        "subject": it.subject,
        "activity": it.session.attrs.get("activity", ""),
        "split": it.split,
        "frames_total": int(len(it.status)),
        "frames_exported": int(len(it.rows)),
        "stream": {"name": opts.stream, "units": spec.units, "dtype": spec.dtype},
        "preview": view,
    }


def _manifest(
    sessions: list[dict],
    frames: list[dict],
    split_names: list[str],
    classes: list[str],
    opts: ExportOptions,
) -> dict:
    counts = {s: {"frames": 0, **dict.fromkeys(opts.statuses, 0)} for s in split_names}
    for f in frames:
        counts[f["split"]]["frames"] += 1
        counts[f["split"]][f["status"]] += 1
    return {
        "format": MANIFEST_FORMAT,
        "version": 1,
        "thermorig": thermorig_version(),
        "created": _now(),
        "command": opts.command,
        "stream": opts.stream,
        "formats": list(opts.formats),
        "statuses": list(opts.statuses),
        "split": opts.split.to_dict(),
        "classes": classes,
        "unlabeled": UNKNOWN_LABEL,
        "sessions": sessions,
        "counts": counts,
        "frames": frames,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
