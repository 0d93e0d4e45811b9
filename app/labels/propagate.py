"""``thermorig propagate``: a few labeled frames of a stream (keyframes) carried through
the whole session by optical flow (:mod:`app.labels.propagation`), into a label sidecar.

Keyframes are the rows of a label file a person made or approved — source manual, or
status accepted or corrected (not rejected) — or, for tests and demos, ``truth:N``:
every N-th frame's ground truth of a synthetic session, standing in for a person (those
rows are written as manual, as a person's would be).

The propagated rows are machine labels: source ``model`` (an estimate computed from the
images, like a segmenter's, awaiting review; ``projected`` means carried through depth
and the rig by autolabel), status unreviewed, with a per-class confidence that falls
with the distance to the nearer keyframe, so review's worst-first queue shows the
frames farthest from any keyframe first. The sidecar's writer keeps every row a person
made or reviewed: when OUT is the keyframes' own file its manual rows stay as they are
and the other rows are filled. A stop signal ends the run between two frames, the old
OUT untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.labels.propagation import (
    PropagationParams,
    grey,
    labels_of,
    one_hot,
    propagate_span,
    work_size,
)
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_MODEL,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
    LabelsError,
)
from app.labels.sidecar_writer import LabelWriter
from drivers import stop_request
from drivers.errors import ThermorigError
from drivers.session import SessionReader


@dataclass
class Keyframes:
    """The labeled frames to propagate from: row → (mask, source, status)."""

    classes: list[str]
    rows: dict[int, tuple[np.ndarray, int, int]]
    #: Where they came from, for the provenance line.
    origin: str


@dataclass
class PropagateSummary:
    frames: int = 0
    keyframes: list[int] = field(default_factory=list)
    propagated: int = 0
    kept_reviewed: int = 0
    confidences: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        conf = np.asarray(self.confidences, float)
        conf = conf[np.isfinite(conf)]
        return {
            "frames": self.frames,
            "keyframes": self.keyframes,
            "propagated": self.propagated,
            "kept_reviewed": self.kept_reviewed,
            "confidence": {"mean": round(float(conf.mean()), 4), "min": round(float(conf.min()), 4)}
            if len(conf)
            else {},
            "seconds": round(self.seconds, 2),
            "ms_per_frame": round(1e3 * self.seconds / max(self.frames, 1), 1),
        }


def truth_every(spec: str) -> int | None:
    """``truth:N`` → N (None for anything else, a label file's path); N must be ≥ 1."""
    name, sep, arg = spec.partition(":")
    if name != "truth" or not sep:
        return None
    try:
        n = int(arg)
    except ValueError:
        n = 0
    if n < 1:
        raise ThermorigError(f"--keyframes {spec}: N of truth:N is a whole number ≥ 1 (truth:30)")
    return n


def read_keyframes(spec: str, session: SessionReader, stream: str) -> Keyframes:
    """The keyframes ``spec`` names (``truth:N`` or a label file of this session)."""
    n = session.count(stream)
    every = truth_every(spec)
    if every is not None:
        truth = session.truth or {}
        if not truth:
            raise ThermorigError(
                f"{session.path} has no ground truth (only synthetic sessions do);"
                " give --keyframes LABELS.h5, a label file with labeled frames"
            )
        rows = {}
        for i in range(0, n, every):
            frame = session.frame(stream, i)
            if frame.truth and "labels" in frame.truth:
                rows[i] = (frame.truth["labels"], SOURCE_MANUAL, STATUS_UNREVIEWED)
        return Keyframes(list(truth.get("classes") or []), rows, f"ground truth every {every}")
    path = Path(spec)
    with LabelReader(path) as lr:
        lr.check_session(session.path)
        if stream not in lr.streams:
            raise LabelsError(f"{path} has no {stream} labels to propagate; label a few frames")
        if lr.count(stream) != n or lr.shape(stream) != tuple(session.streams[stream].shape[:2]):
            raise LabelsError(
                f"{path} has {lr.count(stream)} {stream} rows of {lr.shape(stream)} but the"
                f" session has {n} frames of {tuple(session.streams[stream].shape[:2])}"
            )
        source, status = lr.array(stream, "source"), lr.array(stream, "status")
        made = (source == SOURCE_MANUAL) & (status != STATUS_REJECTED)
        approved = (status == STATUS_ACCEPTED) | (status == STATUS_CORRECTED)
        rows = {
            int(i): (lr.mask(stream, int(i)), int(source[i]), int(status[i]))
            for i in np.nonzero(made | approved)[0]
        }
        return Keyframes(list(lr.classes), rows, f"label file {path.name}")


def _spans(keys: list[int], n: int) -> list[tuple[int | None, int | None]]:
    """(keyframe before, keyframe after) of each run of frames between keyframes;
    None before the first and after the last."""
    spans: list[tuple[int | None, int | None]] = []
    if keys[0] > 0:
        spans.append((None, keys[0]))
    spans += [(a, b) for a, b in zip(keys, keys[1:], strict=False) if b - a > 1]
    if keys[-1] < n - 1:
        spans.append((keys[-1], None))
    return spans


def _row_confidence(mask: np.ndarray, classes: int) -> np.ndarray:
    """A keyframe's confidence row: 1 for the classes it has (a person drew them)."""
    present = np.bincount(mask.ravel(), minlength=256)[:classes] > 0
    return np.where(present, 1.0, np.nan).astype(np.float32)


def provenance_line(keys: list[int], origin: str) -> str:
    shown = ", ".join(str(k) for k in keys[:8]) + (", …" if len(keys) > 8 else "")
    return (
        f"propagate: propagated by optical flow from {len(keys)} keyframes (rows {shown}; {origin})"
    )


@stop_request.deferred()
def propagate(
    session_path: str | Path,
    keyframes_spec: str,
    out_path: str | Path,
    stream: str = "color",
    params: PropagationParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PropagateSummary:
    """Propagate the keyframes of ``stream`` through the session into ``out_path``."""
    params = params or PropagationParams()
    t_start = time.perf_counter()
    session_path, out_path = Path(session_path), Path(out_path)
    if out_path.resolve() == session_path.resolve():
        raise ThermorigError("--out names the session itself; sessions are never modified")
    summary = PropagateSummary()
    with SessionReader(session_path) as s:
        if stream not in s.streams:
            have = ", ".join(s.streams) or "none"
            raise ThermorigError(f"{s.path} has no '{stream}' stream (it has {have})")
        n = s.count(stream)
        if n == 0:
            raise ThermorigError(f"{s.path} has no {stream} frames to label")
        kf = read_keyframes(keyframes_spec, s, stream)
        keys = sorted(kf.rows)
        if not keys:
            raise LabelsError(
                f"--keyframes {keyframes_spec} has no labeled {stream} frames (manual, accepted"
                " or corrected rows); label a few frames first"
            )
        classes = kf.classes or ["background"]
        shape = tuple(s.streams[stream].shape[:2])
        size = work_size(shape, params)
        summary.frames, summary.keyframes = n, keys
        with LabelWriter(
            out_path, session=session_path, classes=classes, command="thermorig propagate"
        ) as writer:
            writer.create_stream(
                stream,
                n,
                shape,
                extras=("confidence",),
                provenance=provenance_line(keys, kf.origin),
            )
            summary.kept_reviewed = writer.kept.get(stream, 0)
            done = 0
            for k in keys:
                mask, source, status = kf.rows[k]
                conf = _row_confidence(mask, len(classes))
                writer.write(stream, k, mask, source, status=status, confidence=conf)
                done += 1
            if progress:
                progress(done, n)
            for a, b in _spans(keys, n):
                lo = 0 if a is None else a
                hi = n - 1 if b is None else b
                greys = []
                for i in range(lo, hi + 1):
                    stop_request.check()  # Ctrl-C, SIGTERM: the writer removes its file
                    greys.append(grey(s.frame(stream, i).array, size))
                start = None if a is None else one_hot(kf.rows[a][0], len(classes), size)
                end = None if b is None else one_hot(kf.rows[b][0], len(classes), size)
                for t, prob, conf in propagate_span(greys, start, end, params):
                    stop_request.check()
                    labels, per_class = labels_of(prob, conf, shape)
                    if writer.write(stream, lo + t, labels, SOURCE_MODEL, confidence=per_class):
                        summary.propagated += 1
                        fg = per_class[1:] if len(per_class) > 1 else per_class
                        if np.isfinite(fg).any():
                            summary.confidences.append(float(np.nanmin(fg)))
                    done += 1
                    if progress:
                        progress(done, n)
    summary.seconds = time.perf_counter() - t_start
    return summary
