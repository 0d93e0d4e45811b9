"""Where the labels that auto-labeling carries into the thermal image come from.

A registry, not a chain of ifs: each kind of source registers a factory under a name,
and a spec ``NAME`` or ``NAME:ARG`` picks it; anything else is a label file's path.

- ``truth``: the synthetic session's true masks of the source stream.
- ``PATH.h5`` (``file``): a label sidecar with masks of the source stream (a person's
  labels, or a model's saved ones); rows whose source is "none" are unlabeled.
- ``model:NAME``: an RGB visual labeler run on each frame. ``NAME`` is a labeler
  :func:`models.visual_labeler.open_visual_labeler` knows (``mediapipe-pose``, the
  default when NAME is empty) or a folder with its ONNX files. A frame where the labeler
  is not confident (no person, legs out of the frame) gives no label (None) rather than
  a wrong one, so auto-labeling leaves it unlabeled.
- ``simulated`` / ``simulated:STRENGTH``: the synthetic truth made imperfect the way a
  real RGB segmenter's labels are (:mod:`app.labels.simulated_annotator`; strength 0 to
  1, default 0.5), seeded by the session's seed, so that auto-labeling is measured
  with the RGB labels a lab has rather than perfect ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from app.labels.sidecar import SOURCE_NONE, LabelReader, LabelsError
from app.labels.simulated_annotator import DEFAULT_STRENGTH, SimulatedAnnotator
from drivers.errors import ThermorigError
from drivers.session import SessionReader


class LabelSource(Protocol):
    """Labels of one stream of a session, frame by frame."""

    #: Class names, index = class id.
    classes: list[str]
    #: Where the labels come from, one line (the label file's ``provenance``).
    provenance: str

    def labels(self, index: int) -> np.ndarray | None:
        """(H, W) uint8 class mask of the stream's frame ``index`` (255 = unknown), or
        None where this source has no label for that frame."""

    def close(self) -> None: ...


#: (arg, session, stream) -> LabelSource
Factory = Callable[[str, SessionReader, str], LabelSource]

LABEL_SOURCES: dict[str, Factory] = {}


def label_source(name: str) -> Callable[[Factory], Factory]:
    """Register a factory for specs ``name`` and ``name:ARG``."""

    def deco(factory: Factory) -> Factory:
        LABEL_SOURCES[name] = factory
        return factory

    return deco


def open_label_source(spec: str, session: SessionReader, stream: str = "color") -> LabelSource:
    """The label source ``spec`` names, for ``stream`` of ``session``."""
    name, sep, arg = spec.partition(":")
    if name in LABEL_SOURCES and name != "file" and (sep or name == spec):
        return LABEL_SOURCES[name](arg, session, stream)
    return LABEL_SOURCES["file"](spec, session, stream)


@label_source("truth")
class TruthLabels:
    """The session's ground truth of ``stream`` (synthetic sessions)."""

    def __init__(self, arg: str, session: SessionReader, stream: str):
        truth = session.truth or {}
        if not truth:
            raise ThermorigError(
                f"{session.path} has no ground truth (only synthetic sessions do);"
                " give a label file or a model"
            )
        self.classes = list(truth.get("classes") or [])
        self.provenance = "ground truth of the synthetic session"
        self._session, self._stream = session, stream
        if stream not in session.streams:
            raise ThermorigError(f"{session.path} has no '{stream}' stream to take labels from")

    def labels(self, index: int) -> np.ndarray | None:
        frame = self._session.frame(self._stream, index)
        if not frame.truth or "labels" not in frame.truth:
            return None
        return frame.truth["labels"]

    def close(self) -> None:
        pass


def session_seed(session: SessionReader) -> int:
    """The seed a synthetic session was simulated with (``seed=N`` in its notes, as
    ``thermorig simulate`` writes them); 0 when the notes do not say."""
    found = re.search(r"\bseed=(-?\d+)", str(session.info.extra.get("notes", "")))
    return int(found.group(1)) if found else 0


@label_source("simulated")
class SimulatedLabels:
    """The session's ground truth of ``stream``, through a simulated RGB annotator of
    strength ``arg`` (default :data:`DEFAULT_STRENGTH`)."""

    def __init__(self, arg: str, session: SessionReader, stream: str):
        try:
            strength = float(arg) if arg else DEFAULT_STRENGTH
        except ValueError:
            strength = float("nan")
        if not 0.0 <= strength <= 1.0:
            raise ThermorigError(
                f"simulated:{arg}: the strength is a number from 0 (the truth) to 1,"
                f" e.g. simulated:{DEFAULT_STRENGTH}"
            )
        self._truth = TruthLabels("", session, stream)
        self.classes = self._truth.classes
        seed = session_seed(session)
        n = session.count(stream)
        self.annotator = SimulatedAnnotator(
            lambda i: self._truth.labels(i) if 0 <= i < n else None,
            n,
            self.classes,
            tuple(session.streams[stream].shape[:2]),
            seed,
            strength,
        )
        self.provenance = f"simulated annotator (strength {strength:g}, seed {seed})"

    def labels(self, index: int) -> np.ndarray | None:
        return self.annotator.labels(index)

    def close(self) -> None:
        self._truth.close()


@label_source("file")
class FileLabels:
    """Masks of ``stream`` from a label sidecar made for this session."""

    def __init__(self, path: str, session: SessionReader, stream: str):
        self._reader = LabelReader(path)
        try:
            self._reader.check_session(session.path)
            if stream not in self._reader.streams:
                raise LabelsError(
                    f"{path} has no labels of the '{stream}' stream; label that stream first"
                )
            n, expect = self._reader.count(stream), session.count(stream)
            if n != expect:
                raise LabelsError(
                    f"{path} has {n} {stream} label rows but the session has {expect} frames"
                )
            self._source = self._reader.array(stream, "source")
        except BaseException:
            self._reader.close()
            raise
        self.classes = list(self._reader.classes)
        own = self._reader.provenance(stream)
        self.provenance = f"label file {Path(path).name}" + (f" ({own})" if own else "")
        self._stream = stream

    def labels(self, index: int) -> np.ndarray | None:
        if self._source[index] == SOURCE_NONE:
            return None
        return self._reader.mask(self._stream, index)

    def close(self) -> None:
        self._reader.close()


@label_source("model")
class ModelLabels:
    """Masks of ``stream`` computed by a visual labeler, frame by frame."""

    def __init__(self, name: str, session: SessionReader, stream: str):
        # Imported here so that listing label sources does not load onnxruntime.
        from models.visual_labeler import open_visual_labeler

        if stream not in session.streams:
            raise ThermorigError(f"{session.path} has no '{stream}' stream to label")
        spec = session.streams[stream]
        if spec.kind != "color" or len(spec.shape) != 3 or spec.shape[2] != 3:
            raise ThermorigError(
                f"model:{name or 'mediapipe-pose'} labels RGB frames; '{stream}' is a"
                f" {spec.kind} stream, not an RGB color stream"
            )
        self._labeler = open_visual_labeler(name)
        self.classes = list(self._labeler.classes)
        self.provenance = f"visual labeler {name or 'mediapipe-pose'}"
        self._session, self._stream = session, stream
        #: Why the last frame got no label (one line; "" when it got one).
        self.last_reason = ""

    def labels(self, index: int) -> np.ndarray | None:
        frame = self._session.frame(self._stream, index)
        result = self._labeler.label(np.ascontiguousarray(frame.array))
        self.last_reason = result.reason
        return result.labels

    def close(self) -> None:
        pass
