"""Writes session files (layout: :mod:`drivers.session`) so that a crash loses ~1 s.

A recording killed at any moment (crash, power button, ``kill -9``) keeps everything
flushed before: the file is written in HDF5's SWMR mode, every dataset and attribute is
created up front (SWMR allows no new ones later), datasets grow in blocks, and frames
are flushed every ``flush_interval`` seconds. Free disk space is checked before every
frame, so a filling disk stops the recording with a closed, valid file. A writer lock
(:mod:`drivers.session_state`) tells a live recording from a killed one.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from drivers.base import SourceInfo
from drivers.codecs import can_store_raw, resolve_codec, store_raw, uncached
from drivers.errors import SessionError
from drivers.session import ACTIVITIES, FORMAT, TRUTH_DTYPES, VERSION
from drivers.session_state import WriterLock
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS, UNKNOWN_LABEL
from drivers.types import Frame, StreamSpec
from drivers.write_failures import (
    WRITE_ERRNOS,
    check_writable,
    discard_h5,
    error_number,
    nearly_full,
    write_error,
)

#: Rows added whenever a stream's datasets are full; SWMR cannot shrink-then-grow
#: cheaply, so datasets grow in blocks and are trimmed to the true count on close.
GROW_BLOCK = 64


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in device telemetry, as JSON can hold them."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class _Sink:
    """One stream's datasets and how many rows of them hold frames."""

    spec: StreamSpec
    frames: h5py.Dataset
    timestamps: h5py.Dataset
    indices: h5py.Dataset
    device_timestamps: h5py.Dataset
    meta: h5py.Dataset
    count: h5py.Dataset
    truth: dict[str, h5py.Dataset] = field(default_factory=dict)
    n: int = 0
    flushed: int = 0
    raw_ok: bool = False  # frames can be stored uncompressed (drivers.codecs)
    raw: int = 0  # frames stored uncompressed
    #: Small per-frame values (timestamp, index, ...) not yet written: writing them one
    #: slice per flush costs far less than a dataset write per frame.
    pending: dict[str, list] = field(default_factory=dict)

    def datasets(self) -> list[h5py.Dataset]:
        rows = [self.frames, self.timestamps, self.indices, self.device_timestamps, self.meta]
        return rows + list(self.truth.values())


class SessionWriter:
    """Writes frames into a new session file; one thread at a time.

    Raises SessionError if ``path`` exists (unless ``overwrite``) or is the session
    being replayed, DiskFullError before the disk holds less than ``min_free_bytes``
    (the file is closed first and keeps every frame written). ``min_free_bytes=0``
    turns the check off: HDF5 itself then meets a full disk (its error is turned into
    the same DiskFullError by the recording); a zero margin that still predicted the
    next frame's fit raced that path, depending on when the file system counted what
    HDF5 had buffered.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        streams: dict[str, StreamSpec],
        info: SourceInfo,
        *,
        activity: str | None = None,
        subject: str | None = None,
        notes: str | None = None,
        codec: str = "blosc2-lz4",
        flush_interval: float = 0.5,
        min_free_bytes: int = 512 * 2**20,
        overwrite: bool = False,
    ):
        self.path = Path(path)
        self.flush_interval = flush_interval
        self.min_free_bytes = min_free_bytes
        self.bytes_written = 0  # raw (uncompressed) bytes handed to HDF5
        self.write_seconds = 0.0
        self.frames_written = 0
        #: Set by whoever feeds the writer: while True, frames are stored uncompressed
        #: (about 10x cheaper; see drivers.codecs), so a writer behind catches up.
        self.store_raw = False
        self._file: h5py.File | None = None
        self._lock: WriterLock | None = None  # tells a live recording from a killed one
        activity = activity or info.activity or "other"
        # A replayed session passes its subject and notes on unless told otherwise.
        subject = info.extra.get("subject", "") if subject is None else subject
        notes = info.extra.get("notes", "") if notes is None else notes
        if activity not in ACTIVITIES:
            raise SessionError(f"unknown activity {activity!r}; use one of {', '.join(ACTIVITIES)}")
        if not streams:
            raise SessionError("the source has no streams to record; check the source")
        self._check_target(info, overwrite)
        self.codec, self._codec_kwargs, note = resolve_codec(codec)
        self._check_disk(0)
        try:
            self._file = h5py.File(self.path, "w" if overwrite else "w-", libver="latest")
        except OSError as exc:
            raise write_error(exc, self.path) from exc
        try:
            self._create(streams, info, activity, subject, notes, note)
            self._file.swmr_mode = True
            self._lock = WriterLock.hold(self.path)
        except BaseException:
            discard_h5(self._file)
            self._file = None
            self.path.unlink(missing_ok=True)
            raise
        self._last_flush = time.monotonic()

    # -- setup ----------------------------------------------------------------------
    def _check_target(self, info: SourceInfo, overwrite: bool) -> None:
        if not self.path.parent.is_dir():
            raise SessionError(f"folder {self.path.parent} does not exist; create it first")
        check_writable(self.path.parent, str(self.path))
        if info.spec.startswith("replay:"):
            source = Path(info.spec[len("replay:") :])
            if self.path.exists() and source.exists() and self.path.samefile(source):
                raise SessionError(
                    f"{self.path} is the session being replayed; record to another file"
                )
        if self.path.exists() and not overwrite:
            raise SessionError(f"{self.path} already exists; choose another file name")

    def _check_disk(self, incoming: int) -> None:
        if self.min_free_bytes <= 0:
            return
        free = shutil.disk_usage(self.path.parent).free
        if free - incoming < self.min_free_bytes:
            self.close()
            raise nearly_full(self.path.parent, free)

    def _create(self, streams, info, activity, subject, notes, codec_note) -> None:
        f = self._file
        f.attrs.update(
            format=FORMAT,
            version=VERSION,
            created=_utc_now(),
            activity=activity,
            subject=subject,
            notes=notes,
            source=info.spec,
            codec=self.codec,
            hw_sync=bool(info.hw_sync),
        )
        if codec_note:
            f.attrs["codec_note"] = codec_note
        if info.rig is not None:
            f.create_group("rig").attrs["json"] = json.dumps(info.rig)
        truth = info.truth
        if truth is not None:
            tg = f.create_group("truth")
            tg.attrs["classes"] = json.dumps(list(truth.get("classes") or DEFAULT_CLASSES))
            keypoints = list(truth.get("keypoints") or DEFAULT_KEYPOINTS)
            tg.attrs["keypoints"] = json.dumps(keypoints)
            tg.attrs["board"] = truth.get("board") or ""
            if truth.get("clock_error_ms"):
                tg.attrs["clock_error_ms"] = json.dumps(truth["clock_error_ms"])
            for key in ("subject", "setup"):  # a varied synthetic subject and its setup
                if truth.get(key):
                    tg.attrs[key] = json.dumps(truth[key])
            rig = tg.create_group("rig")
            if truth.get("rig") is not None:
                rig.attrs["json"] = json.dumps(truth["rig"])
        f.create_group("streams", track_order=True)  # readers list streams in source order
        self._sinks = {n: self._create_stream(s, truth) for n, s in streams.items()}
        ev = f.create_group("events")
        self._ev_time = ev.create_dataset(
            "time", shape=(0,), maxshape=(None,), chunks=(64,), dtype=np.float64
        )
        self._ev_text = ev.create_dataset(
            "text", shape=(0,), maxshape=(None,), chunks=(64,), dtype=h5py.string_dtype()
        )
        self._ev_count = ev.create_dataset("count", data=np.zeros(1, np.int64))
        self._ev_n = 0
        # Intervals in which a stream delivered nothing (camera stalled or unplugged),
        # so analysis never mistakes a gap for a still subject.
        gaps = f.create_group("gaps")
        self._gap_ds = {
            name: gaps.create_dataset(name, shape=(0,), maxshape=(None,), chunks=(64,), dtype=dt)
            for name, dt in (
                ("stream", h5py.string_dtype()),
                ("start", np.float64),
                ("end", np.float64),
                ("message", h5py.string_dtype()),
            )
        }
        self._gap_count = gaps.create_dataset("count", data=np.zeros(1, np.int64))
        self._gap_n = 0

    def _create_stream(self, spec: StreamSpec, truth: dict | None) -> _Sink:
        g = self._file.create_group(f"streams/{spec.name}")
        g.attrs.update(kind=spec.kind, units=spec.units, fps=float(spec.fps), device=spec.device)
        if spec.depth_scale is not None:
            g.attrs["depth_scale"] = float(spec.depth_scale)
        if spec.intrinsics is not None:
            g.attrs["intrinsics"] = json.dumps(spec.intrinsics.to_dict())
        g.attrs["spec"] = json.dumps(spec.to_dict())
        shape = tuple(spec.shape)

        def rows(name, dtype, tail=(), chunk=1024, fill=None, compress=False, group=g):
            # A frame is one chunk, written once: no chunk cache, so it is compressed
            # as it is written (not in a burst at the next flush) and timed honestly.
            kwargs = {**self._codec_kwargs, "dapl": uncached()} if compress else {}
            return group.create_dataset(
                name,
                shape=(GROW_BLOCK, *tail),
                maxshape=(None, *tail),
                chunks=(chunk, *tail),
                dtype=dtype,
                fillvalue=fill,
                **kwargs,
            )

        sink = _Sink(
            spec=spec,
            frames=rows("frames", spec.dtype, shape, chunk=1, compress=True),
            timestamps=rows("timestamps", np.float64, fill=np.nan),
            indices=rows("indices", np.int64, fill=-1),
            device_timestamps=rows("device_timestamps", np.float64, fill=np.nan),
            meta=rows("meta", h5py.string_dtype()),
            count=g.create_dataset("count", data=np.zeros(1, np.int64)),
        )
        sink.raw_ok = can_store_raw(sink.frames)
        if truth is not None:
            tg = self._file.create_group(f"truth/{spec.name}")
            k = len(truth.get("keypoints") or DEFAULT_KEYPOINTS)
            sink.truth["labels"] = rows(
                "labels", np.uint8, shape[:2], 1, UNKNOWN_LABEL, compress=True, group=tg
            )
            sink.truth["keypoints"] = rows("keypoints", np.float32, (k, 2), 64, np.nan, group=tg)
            if truth.get("board"):
                sink.truth["board_pose"] = rows(
                    "board_pose", np.float64, (4, 4), 64, np.nan, group=tg
                )
        return sink

    # -- writing --------------------------------------------------------------------
    def write(self, frame: Frame) -> None:
        """Append one frame (and its truth) to its stream."""
        if self._file is None:
            raise SessionError(f"{self.path} is closed; start a new recording")
        sink = self._sinks.get(frame.stream)
        if sink is None:
            raise SessionError(
                f"stream {frame.stream!r} is not part of this session ({', '.join(self._sinks)})"
            )
        array = np.asarray(frame.array)
        if array.shape != sink.spec.shape or array.dtype != np.dtype(sink.spec.dtype):
            raise SessionError(
                f"{frame.stream} frame is {array.shape} {array.dtype}, the session expects"
                f" {sink.spec.shape} {sink.spec.dtype}; restart the recording"
            )
        self._check_disk(array.nbytes)
        t0 = time.perf_counter()
        try:
            self._append(sink, frame, array)
        except (OSError, RuntimeError) as exc:
            self._fail(exc)
        self.write_seconds += time.perf_counter() - t0
        self.frames_written += 1
        self.bytes_written += array.nbytes
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def _append(self, sink: _Sink, frame: Frame, array: np.ndarray) -> None:
        i = sink.n
        if i >= sink.frames.shape[0]:
            for d in sink.datasets():
                d.resize(i + GROW_BLOCK, axis=0)
        if self.store_raw and sink.raw_ok:
            store_raw(sink.frames, i, array)
            sink.raw += 1
        else:
            sink.frames[i] = array
        truth = frame.truth or {}
        if "labels" in sink.truth and "labels" in truth:
            sink.truth["labels"][i] = np.asarray(truth["labels"], dtype=np.uint8)
        row = {
            "timestamps": frame.timestamp,
            "indices": frame.index,
            "device_timestamps": math.nan
            if frame.device_timestamp is None
            else frame.device_timestamp,
            "meta": json.dumps(frame.meta, default=_jsonable) if frame.meta else "",
        }
        for key in ("keypoints", "board_pose"):
            if key in sink.truth:
                ds = sink.truth[key]
                value = truth.get(key)
                row[key] = (
                    np.full(ds.shape[1:], np.nan, ds.dtype)
                    if value is None
                    else np.asarray(value, dtype=TRUTH_DTYPES[key]).reshape(ds.shape[1:])
                )
        for key, value in row.items():
            sink.pending.setdefault(key, []).append(value)
        sink.n = i + 1

    def _write_pending(self, sink: _Sink) -> None:
        if not sink.pending:
            return
        rows = len(sink.pending["timestamps"])
        start = sink.n - rows
        for key, values in sink.pending.items():
            ds = sink.truth[key] if key in sink.truth else getattr(sink, key)
            ds[start : sink.n] = np.asarray(values, dtype=ds.dtype)
        sink.pending = {}

    def mark(self, timestamp: float, text: str) -> None:
        """Record an event marker (host-clock seconds, free text)."""
        if self._file is None:
            raise SessionError(f"{self.path} is closed; start a new recording")
        i = self._ev_n
        self._ev_time.resize(i + 1, axis=0)
        self._ev_text.resize(i + 1, axis=0)
        self._ev_time[i] = timestamp
        self._ev_text[i] = str(text)
        self._ev_n = i + 1

    def gap(self, stream: str, start: float, end: float, message: str = "") -> None:
        """Record that ``stream`` had no frames from ``start`` to ``end`` (host clock;
        ``end`` NaN if the stream never came back before the recording ended)."""
        if self._file is None:
            raise SessionError(f"{self.path} is closed; start a new recording")
        i = self._gap_n
        for ds in self._gap_ds.values():
            ds.resize(i + 1, axis=0)
        self._gap_ds["stream"][i] = stream
        self._gap_ds["start"][i] = start
        self._gap_ds["end"][i] = end
        self._gap_ds["message"][i] = str(message)
        self._gap_n = i + 1

    def flush(self) -> None:
        """Make every frame written so far survive a crash.

        Two flushes: first the frames themselves, then the counts that declare them,
        so a kill between the two leaves counts that lag, never counts that lead.
        """
        if self._file is None:
            return
        try:
            for sink in self._sinks.values():
                self._write_pending(sink)
            self._file.flush()
            for sink in self._sinks.values():
                if sink.flushed != sink.n:
                    sink.count[0] = sink.n
                    sink.flushed = sink.n
            if int(self._ev_count[0]) != self._ev_n:
                self._ev_count[0] = self._ev_n
            if int(self._gap_count[0]) != self._gap_n:
                self._gap_count[0] = self._gap_n
            self._file.flush()
        except (OSError, RuntimeError) as exc:
            self._fail(exc)
        self._last_flush = time.monotonic()

    def flush_if_due(self) -> None:
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self.flush()

    def _fail(self, exc: OSError | RuntimeError) -> None:
        """A write failed (a full disk): the file is let go as last flushed (see close).
        h5py raises a failed flush as RuntimeError, with the errno in HDF5's text: any
        other RuntimeError is a bug and goes on as it is."""
        if not isinstance(exc, OSError) and error_number(exc) not in WRITE_ERRNOS:
            raise exc
        f, self._file = self._file, None
        discard_h5(f)
        for sink in self._sinks.values():
            sink.n = sink.flushed  # what the file declares
        if self._lock is not None:
            self._lock.release()
        raise write_error(exc, self.path) from exc

    def counts(self, raw: bool = False) -> dict[str, int]:
        """Frames written per stream (with ``raw``: of those, stored uncompressed)."""
        sinks = getattr(self, "_sinks", {})
        return {n: s.raw if raw else s.n for n, s in sinks.items()}

    def close(self) -> None:
        """Trim datasets to the frames written, declare them, close. Safe to call twice."""
        f, self._file = self._file, None
        if f is None:
            return
        try:
            for sink in self._sinks.values():
                self._write_pending(sink)
                for d in sink.datasets():
                    d.resize(sink.n, axis=0)
                sink.count[0] = sink.n
            self._ev_count[0] = self._ev_n
            self._gap_count[0] = self._gap_n
            f.flush()  # a full disk fails here, where the file can still be let go
        except BaseException as exc:
            discard_h5(f)  # as last flushed: readable, and `thermorig repair` closes it
            # h5py raises a failed flush as RuntimeError; the errno is in HDF5's text.
            if isinstance(exc, OSError) or error_number(exc) in WRITE_ERRNOS:
                raise write_error(exc, self.path) from exc
            raise
        finally:
            if f.id.valid:
                f.close()
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
