"""The model package's JSON (format ``thermorig-model`` version 1), parsed and checked.

The JSON is the contract between whoever trained a network and the app that runs it:
which stream it reads, how temperatures become pixel values, how the frame is fitted
to the network's input, and how to read what comes out. Everything the runner needs is
here, so that any ONNX file with such a JSON runs without code changes::

    {
      "format": "thermorig-model", "version": 1,
      "task": "segmentation",                      # or keypoints, visual-labeler
      "description": "calves in thermal images",
      "input": {"stream": "thermal", "name": "thermal", "size": [320, 256],
                "representation": "grayscale", "window_c": [15, 40],
                "resize": "letterbox", "normalization": {"mean": [0.0], "std": [1.0]}},
      "output": {"name": "logits", "kind": "logits"},
      "classes": ["background", "left_calf", "right_calf"],
      "provenance": {"training_data": ..., "figures": {"mean_iou": 0.95}, ...}
    }

``size`` is [width, height] like every image size in thermorig; ``layout`` (NCHW, or
NHWC for TensorFlow exports) applies to the input and to 4-D outputs. Keypoint models name
``keypoints`` instead of ``classes`` and an output kind ``heatmaps`` (one map per
keypoint, read with a soft-argmax) or ``coordinates`` ((1, K, 2) points, ``normalized``
to [0, 1] of the input or in input ``pixels``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.errors import ModelError

FORMAT = "thermorig-model"
VERSION = 1

TASKS = ("segmentation", "keypoints", "visual-labeler")
RESIZE_MODES = ("letterbox", "stretch")
LAYOUTS = ("NCHW", "NHWC")
OUTPUT_KINDS = ("logits", "heatmaps", "coordinates")
COORDINATE_UNITS = ("normalized", "pixels")


@dataclass(frozen=True)
class InputSpec:
    """What the network reads and how a frame is turned into it."""

    width: int
    height: int
    stream: str = "thermal"
    name: str | None = None
    representation: str = "grayscale"
    window_c: tuple[float, float] = (15.0, 40.0)
    colormap: str = "inferno"
    resize: str = "letterbox"
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    #: Memory layout of the input and of 4-D outputs (NHWC: TensorFlow/TFLite exports).
    layout: str = "NCHW"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "stream": self.stream,
            "name": self.name,
            "size": [self.width, self.height],
            "layout": self.layout,
            "representation": self.representation,
            "resize": self.resize,
            "normalization": {"mean": list(self.mean), "std": list(self.std)},
        }
        if self.representation in ("grayscale", "heatmap"):
            d["window_c"] = list(self.window_c)
        if self.representation == "heatmap":
            d["colormap"] = self.colormap
        return d


@dataclass(frozen=True)
class OutputSpec:
    """Which ONNX output to read and what it holds."""

    kind: str
    name: str | None = None
    coordinates: str = "normalized"
    min_score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "coordinates":
            d["coordinates"] = self.coordinates
        if self.kind != "logits":
            d["min_score"] = self.min_score
        return d


@dataclass(frozen=True)
class Manifest:
    """The parsed JSON of a model package."""

    task: str
    input: InputSpec
    output: OutputSpec
    classes: tuple[str, ...] = ()
    keypoints: tuple[str, ...] = ()
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def figures(self) -> dict[str, Any]:
        """Headline quality figures the trainer measured (held-out IoU, keypoint error)."""
        figs = self.provenance.get("figures", {})
        return figs if isinstance(figs, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "task": self.task,
            "description": self.description,
            "input": self.input.to_dict(),
            "output": self.output.to_dict(),
        }
        if self.classes:
            d["classes"] = list(self.classes)
        if self.keypoints:
            d["keypoints"] = list(self.keypoints)
        d["provenance"] = self.provenance
        return d

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def _is_number(v: Any) -> bool:
    """A finite JSON number (not a bool; NaN, Infinity and 1e999 are not numbers)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer too large for a float
        return False


class _Fields:
    """Typed access to a JSON object that names the offending key in every error."""

    def __init__(self, d: Any, where: str, prefix: str = ""):
        if not isinstance(d, dict):
            raise ModelError(f"{where}: {prefix or 'the file'} must be a JSON object")
        self.d, self.where, self.prefix = d, where, prefix

    def _bad(self, key: str, why: str) -> ModelError:
        return ModelError(f"{self.where}: '{self.prefix}{key}' {why}")

    def has(self, key: str) -> bool:
        return key in self.d

    def obj(self, key: str, required: bool = True) -> _Fields:
        if key not in self.d and not required:
            return _Fields({}, self.where, f"{self.prefix}{key}.")
        if key not in self.d:
            raise self._bad(key, "is missing")
        return _Fields(self.d[key], self.where, f"{self.prefix}{key}.")

    def text(self, key: str, default: str | None = None, choices: tuple[str, ...] = ()) -> str:
        v = self.d.get(key, default)
        if v is None:
            raise self._bad(
                key, "is missing" + (f"; use one of {', '.join(choices)}" if choices else "")
            )
        if not isinstance(v, str) or not v:
            raise self._bad(key, f"must be a non-empty string, not {v!r}")
        if choices and v not in choices:
            raise self._bad(key, f"is {v!r}; use one of {', '.join(choices)}")
        return v

    def opt_text(self, key: str) -> str | None:
        return None if self.d.get(key) is None else self.text(key)

    def numbers(self, key: str, n: int | None, default: Any = None) -> tuple[float, ...]:
        v = self.d.get(key, default)
        if v is None:
            raise self._bad(key, "is missing")
        ok = isinstance(v, list) and all(_is_number(x) for x in v)
        if not ok or (n is not None and len(v) != n) or not v:
            count = f"{n} numbers" if n else "a list of numbers"
            raise self._bad(key, f"must be {count}, not {v!r}")
        return tuple(float(x) for x in v)

    def number(self, key: str, default: float) -> float:
        v = self.d.get(key, default)
        if not _is_number(v):
            raise self._bad(key, f"must be a finite number, not {v!r}")
        return float(v)

    def names(self, key: str) -> tuple[str, ...]:
        v = self.d.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self._bad(key, f"must be a list of names, not {v!r}")
        if len(set(v)) != len(v):
            raise self._bad(key, "names the same entry twice")
        return tuple(v)


def parse_manifest(d: Any, where: str) -> Manifest:
    """A :class:`Manifest` from the loaded JSON; ``where`` (the file) prefixes errors."""
    f = _Fields(d, where)
    fmt = d.get("format", FORMAT)
    if fmt != FORMAT:
        raise ModelError(f"{where}: format is {fmt!r}, not {FORMAT!r}; not a thermorig model")
    version = d.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise ModelError(
            f"{where}: model format version {version!r}; this thermorig reads up to {VERSION}:"
            " update thermorig"
        )
    task = f.text("task", choices=TASKS)
    fi = f.obj("input")
    w, h = fi.numbers("size", 2)
    if w != int(w) or h != int(h) or not (8 <= w <= 8192 and 8 <= h <= 8192):
        raise ModelError(f"{where}: 'input.size' must be [width, height] in pixels, 8-8192")
    norm = fi.obj("normalization", required=False)
    window = fi.numbers("window_c", 2, [15.0, 40.0])
    default_stream = "color" if task == "visual-labeler" else "thermal"
    representation = fi.text("representation", "rgb" if task == "visual-labeler" else "grayscale")
    channels = 1 if representation == "grayscale" else 3
    inp = InputSpec(
        width=int(w),
        height=int(h),
        stream=fi.text("stream", default_stream),
        name=fi.opt_text("name"),
        representation=representation,
        window_c=(window[0], window[1]),
        colormap=fi.text("colormap", "inferno"),
        resize=fi.text("resize", "letterbox", RESIZE_MODES),
        layout=fi.text("layout", "NCHW", LAYOUTS),
        mean=norm.numbers("mean", None, [0.0] * channels),
        std=norm.numbers("std", None, [1.0] * channels),
    )
    lo, hi = inp.window_c
    if not hi > lo:
        raise ModelError(f"{where}: 'input.window_c' must be [low, high] °C with high > low")
    if any(s == 0 for s in inp.std):
        raise ModelError(f"{where}: 'input.normalization.std' must not contain 0")
    fo = f.obj("output", required=False)
    default_kind = "heatmaps" if task == "keypoints" else "logits"
    out = OutputSpec(
        kind=fo.text("kind", default_kind, OUTPUT_KINDS),
        name=fo.opt_text("name"),
        coordinates=fo.text("coordinates", "normalized", COORDINATE_UNITS),
        min_score=fo.number("min_score", 0.0),
    )
    provenance = d.get("provenance", {})
    if not isinstance(provenance, dict):
        raise ModelError(f"{where}: 'provenance' must be a JSON object")
    return Manifest(
        task=task,
        input=inp,
        output=out,
        classes=f.names("classes"),
        keypoints=f.names("keypoints"),
        description=str(d.get("description", "")),
        provenance=provenance,
    )
