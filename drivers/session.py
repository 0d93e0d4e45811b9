"""The session file (HDF5, format ``thermorig-session`` version 1) and its reader.

The layout (documented for people in docs/formats/session.md; tests/test_docs.py keeps
the two in step). Besides frames and timestamps it holds what a recorder needs to
survive being killed and what replay needs to reproduce a source exactly:

```
/                              attrs format, version, created, activity, subject, notes,
                                     source (the source spec), codec [, codec_note], hw_sync
/rig                           attrs json (if the source knew its rig)
/streams/<name>                attrs kind, units, depth_scale (depth), fps, device,
                                     intrinsics (json, if known), spec (StreamSpec json)
/streams/<name>/frames         (N,H,W[,C]) one frame per chunk, lossless compression
/streams/<name>/timestamps     (N,) float64 host-clock seconds
/streams/<name>/indices        (N,) int64 the stream's frame index as delivered
/streams/<name>/device_timestamps (N,) float64, NaN where the device gave none
/streams/<name>/meta           (N,) UTF-8 JSON of Frame.meta (device telemetry), "" if none
/streams/<name>/count          (1,) int64 frames complete on disk (see below)
/events/time, /events/text     (M,) float64 and UTF-8 strings; /events/count (1,) int64
/truth                         attrs classes, keypoints (json lists), board (spec or "")
/truth/rig                     attrs json
/truth/<name>/labels           (N,H,W) uint8, one frame per chunk
/truth/<name>/keypoints        (N,K,2) float32, NaN where not visible
/truth/<name>/board_pose       (N,4,4) float64 (only when the scene has a board)
```

Truth datasets exist for every stream of a source that has truth; a row whose frame
carried none holds labels 255 (unknown) and NaN keypoints/poses.

Why ``count``: the writer (:mod:`drivers.session_writer`) uses HDF5's SWMR mode so that
a recording killed mid-way stays readable, and SWMR forbids new attributes once writing
began. Datasets
grow in blocks, so their length can exceed the frames actually written; ``count`` is
rewritten only after the frames it counts were flushed, so ``count`` rows are always
complete. Readers take the minimum of ``count`` and every per-stream dataset's length.
A recorder that closed normally trims every dataset to ``count``, so plain h5py sees
exact lengths. A file whose recorder died can only be opened with ``swmr=True`` (HDF5
still marks it as open for writing); :class:`SessionReader` does that by itself, and
``thermorig repair`` (:mod:`drivers.session_repair`) makes it a normal closed file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from drivers.base import SourceInfo
from drivers.codecs import raw_frames
from drivers.errors import SessionError, one_line
from drivers.hdf5_superblock import superblock_problem
from drivers.session_checks import check_stream, count_problem, timestamp_problem
from drivers.session_state import SWMR_WRITE_ACCESS, WRITE_ACCESS, open_flags
from drivers.types import Frame, Intrinsics, StreamSpec

try:  # Registers the Blosc2 filter with HDF5; needed to read blosc2-lz4 sessions.
    import hdf5plugin  # noqa: F401
except ImportError:  # pragma: no cover - hdf5plugin is a dependency
    hdf5plugin = None

FORMAT = "thermorig-session"
VERSION = 1
ACTIVITIES = ("cycling", "treadmill", "calibration", "other")

#: Truth arrays a frame may carry and how they are stored.
TRUTH_DTYPES = {"labels": np.uint8, "keypoints": np.float32, "board_pose": np.float64}

_PER_STREAM = ("frames", "timestamps", "indices", "device_timestamps", "meta")


def open_h5(path: Path) -> h5py.File:
    """Open a session for reading, also while being recorded or after its recorder died.

    A plain open is tried first because it lets HDF5 detect truncated files; a file
    HDF5 still marks as open for writing (live SWMR recording, killed recorder) is then
    opened with ``swmr=True`` and checked for truncation here, since HDF5 does not.
    """
    if not path.exists():
        raise SessionError(f"session file not found: {path}; check the path")
    if path.is_dir():
        raise SessionError(f"{path} is a folder, not a session file; give the .h5 file")
    if not h5py.is_hdf5(path):
        raise SessionError(f"{path} is not an HDF5 file; give a session recorded by thermorig")
    damage = superblock_problem(path)
    if damage:
        raise SessionError(f"{path}: {damage}; the file is damaged")
    try:
        return h5py.File(path, "r")
    except (OSError, RuntimeError) as exc:  # HDF5 raises either for damaged metadata
        msg = one_line(exc)
        if "truncated" in msg:
            raise SessionError(
                f"{path} is truncated (incomplete copy or download); copy it again"
            ) from exc
        first = msg
    if not open_flags(path) & (WRITE_ACCESS | SWMR_WRITE_ACCESS):
        # Not marked open for writing, so SWMR would not help; and a SWMR reader
        # retries damaged metadata for minutes.
        raise SessionError(f"cannot open {path}: {first}; the file is damaged")
    try:
        f = h5py.File(path, "r", libver="latest", swmr=True)
    except (OSError, RuntimeError) as exc:
        raise SessionError(f"cannot open {path}: {first}; the file is damaged") from exc
    if os.path.getsize(path) < f.id.get_filesize():
        f.close()
        raise SessionError(f"{path} is truncated (incomplete copy or download); copy it again")
    return f


def _json_attr(node: h5py.HLObject | None, key: str = "json") -> Any:
    if node is None or key not in node.attrs:
        return None
    raw = node.attrs[key]
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw) if raw else None


def _str_attr(node: h5py.HLObject, key: str, default: str = "") -> str:
    raw = node.attrs.get(key, default)
    if isinstance(raw, bytes):
        return raw.decode("utf-8")
    return str(raw)


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def _meta(raw: Any) -> dict | None:
    """A frame's telemetry (JSON object text), or None where there is none or it does
    not read: telemetry is for diagnosis, and a garbled entry must not cost the frame."""
    try:
        meta = json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) else None


class SessionReader:
    """Random access to a recorded session: streams, frames, timestamps, truth, events.

    Opens sessions being recorded and sessions whose recorder was killed (everything
    flushed before the kill is there). Not thread-safe beyond what h5py guarantees.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file = open_h5(self.path)
        try:
            self._load()
        except SessionError:
            self._file.close()
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError, RecursionError) as exc:
            self._file.close()
            raise SessionError(
                f"cannot read {self.path}: {one_line(exc)}; the file is damaged"
            ) from exc

    # -- loading --------------------------------------------------------------------
    def _load(self) -> None:
        f = self._file
        fmt = _str_attr(f, "format")
        if fmt != FORMAT:
            raise SessionError(
                f"{self.path} is an HDF5 file but not a thermorig session"
                f" (format {fmt or 'missing'!r}); open a session recorded by thermorig"
            )
        version = int(f.attrs.get("version", 0))
        if version > VERSION:
            raise SessionError(
                f"{self.path} has session format version {version}, this thermorig reads"
                f" up to {VERSION}; update thermorig"
            )
        if not isinstance(f.get("streams"), h5py.Group):
            raise SessionError(f"{self.path} has no /streams group; the file is damaged")
        truth_group = f.get("truth")
        truth_group = truth_group if isinstance(truth_group, h5py.Group) else None
        for name, group in f["streams"].items():
            problem = check_stream(name, group, truth_group)
            if problem:
                raise SessionError(
                    f"{self.path}: {problem}; the file is damaged or was not written by thermorig"
                )
        self.attrs: dict[str, Any] = {
            "format": fmt,
            "version": version,
            "created": _str_attr(f, "created"),
            "activity": _str_attr(f, "activity", "other"),
            "subject": _str_attr(f, "subject"),
            "notes": _str_attr(f, "notes"),
            "source": _str_attr(f, "source"),
            "codec": _str_attr(f, "codec"),
        }
        self.streams: dict[str, StreamSpec] = {
            name: self._spec(name, group) for name, group in f["streams"].items()
        }
        self.rig: dict | None = _json_attr(f.get("rig"))
        self.truth: dict | None = None
        if "truth" in f:
            t = f["truth"]
            board = _str_attr(t, "board")
            self.truth = {
                "rig": _json_attr(t.get("rig")),
                "classes": _json_attr(t, "classes") or [],
                "keypoints": _json_attr(t, "keypoints") or [],
                "board": board or None,
            }
            if "clock_error_ms" in t.attrs:  # synthetic sessions: simulate --clock-error
                self.truth["clock_error_ms"] = _json_attr(t, "clock_error_ms") or {}
            for key in ("subject", "setup"):  # synthetic sessions of a varied subject
                if key in t.attrs:
                    self.truth[key] = _json_attr(t, key)
            for key in ("classes", "keypoints"):
                v = self.truth[key]
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise SessionError(f"{self.path}: /truth {key} is not a list of names")
        for node, rig in (("/rig", self.rig), ("/truth/rig", (self.truth or {}).get("rig"))):
            if rig is not None and not isinstance(rig, dict):
                raise SessionError(f"{self.path}: {node} json is not a rig object")
        self.info = SourceInfo(
            spec=f"replay:{self.path.absolute()}",
            activity=self.attrs["activity"],
            devices={n: s.device for n, s in self.streams.items()},
            rig=self.rig,
            truth=self.truth,
            hw_sync=bool(f.attrs.get("hw_sync", False)),
            # Recording this session again (replay) keeps who and what it was.
            extra={"subject": self.attrs["subject"], "notes": self.attrs["notes"]},
        )
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._time_problems: dict[str, str | None] = {}

    @staticmethod
    def _spec(name: str, g: h5py.Group) -> StreamSpec:
        frames = g["frames"]
        depth_scale = g.attrs.get("depth_scale")
        intr = _json_attr(g, "intrinsics")
        return StreamSpec(
            name=name,
            kind=_str_attr(g, "kind", name),
            shape=tuple(int(v) for v in frames.shape[1:]),
            dtype=str(frames.dtype),
            units=_str_attr(g, "units"),
            fps=float(g.attrs.get("fps", 0.0)),
            depth_scale=None if depth_scale is None else float(depth_scale),
            intrinsics=Intrinsics.from_dict(intr) if intr else None,
            device=_str_attr(g, "device"),
        )

    def _group(self, stream: str) -> h5py.Group:
        if stream not in self.streams:
            raise KeyError(f"no stream {stream!r} in {self.path}; it has {sorted(self.streams)}")
        return self._file["streams"][stream]

    def _stream_cache(self, stream: str) -> dict[str, np.ndarray]:
        """Timestamps, indices and device timestamps, trimmed to the consistent count."""
        if stream in self._cache:
            return self._cache[stream]
        g = self._group(stream)
        try:
            return self._read_rows(stream, g)
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:  # damaged
            raise SessionError(
                f"cannot read the {stream} timestamps of {self.path}: {one_line(exc)};"
                " the file is damaged"
            ) from exc

    def _read_rows(self, stream: str, g: h5py.Group) -> dict[str, np.ndarray]:
        lengths = [g[k].shape[0] for k in _PER_STREAM if k in g]
        if "truth" in self._file and stream in self._file["truth"]:
            truth = self._file["truth"][stream].values()  # a broken link reads as None
            lengths += [d.shape[0] for d in truth if isinstance(d, h5py.Dataset)]
        n = min(lengths)
        if "count" in g:
            n = min(n, int(g["count"][0]))
        ts = np.asarray(g["timestamps"][:n], dtype=np.float64)
        if "count" not in g:  # A file not written by this recorder: trim unwritten rows
            finite = np.flatnonzero(np.isfinite(ts))  # (NaN-filled, at the end).
            n = int(finite[-1]) + 1 if len(finite) else 0
            ts = ts[:n]
        idx = (
            np.asarray(g["indices"][:n], dtype=np.int64)
            if "indices" in g
            else np.arange(n, dtype=np.int64)
        )
        dev = (
            np.asarray(g["device_timestamps"][:n], dtype=np.float64)
            if "device_timestamps" in g
            else np.full(n, np.nan)
        )
        cache = {"timestamps": ts, "indices": idx, "device_timestamps": dev}
        self._cache[stream] = cache
        self._time_problems[stream] = timestamp_problem(stream, ts)
        return cache

    # -- public ---------------------------------------------------------------------
    def count(self, stream: str) -> int:
        """Frames of ``stream`` that are complete in the file."""
        return len(self._stream_cache(stream)["timestamps"])

    def timestamps(self, stream: str) -> np.ndarray:
        """Host-clock seconds of every complete frame of ``stream`` (a copy)."""
        return self._stream_cache(stream)["timestamps"].copy()

    def timestamp_problem(self, stream: str) -> str | None:
        """What is wrong with ``stream``'s timestamps (NaN, going backwards), or None.
        Flagged, not refused on opening: see :mod:`drivers.session_checks`."""
        self._stream_cache(stream)
        return self._time_problems[stream]

    def require_timestamps(self, streams: Iterable[str], purpose: str) -> None:
        """SessionError (one line) if any of ``streams`` has bad timestamps; for the
        commands that match frames by time (``purpose``: what needs them)."""
        for stream in streams:
            problem = self.timestamp_problem(stream)
            if problem:
                raise SessionError(
                    f"{self.path}: {problem}; {purpose} matches frames by time, so it cannot"
                    " use this recording (its clock was broken while recording)"
                )

    def indices(self, stream: str) -> np.ndarray:
        """The frame index each row carried when recorded (a copy)."""
        return self._stream_cache(stream)["indices"].copy()

    def stored_raw(self, stream: str) -> int:
        """Frames of ``stream`` stored uncompressed, because the recording's writer was
        behind (see drivers.codecs); they read back like every other frame."""
        return raw_frames(self._group(stream)["frames"], self.count(stream))

    def frame(self, stream: str, i: int) -> Frame:
        """Row ``i`` of ``stream`` as the Frame the source delivered, truth included."""
        cache = self._stream_cache(stream)
        n = len(cache["timestamps"])
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range: {stream} has {n} frames")
        i = int(i) % n
        try:
            g = self._group(stream)
            array = g["frames"][i]
            truth = self._truth_row(stream, i)
            meta = g["meta"][i] if "meta" in g else b""
        except (OSError, KeyError, RuntimeError) as exc:  # a damaged chunk or header
            raise SessionError(
                f"cannot read frame {i} of {stream} in {self.path}: {one_line(exc)};"
                " the file is damaged or needs hdf5plugin"
            ) from exc
        dev = float(cache["device_timestamps"][i])
        return Frame(
            stream=stream,
            index=int(cache["indices"][i]),
            timestamp=float(cache["timestamps"][i]),
            array=array,
            device_timestamp=None if np.isnan(dev) else dev,
            truth=truth,
            meta=_meta(meta),
        )

    def _truth_row(self, stream: str, i: int) -> dict[str, np.ndarray] | None:
        if "truth" not in self._file or stream not in self._file["truth"]:
            return None
        g = self._file["truth"][stream]
        return {k: g[k][i] for k in TRUTH_DTYPES if k in g}

    def _log(self, group: str, keys: tuple[str, ...]) -> list[np.ndarray]:
        """The complete rows of the datasets ``keys`` of a log group (``/events``,
        ``/gaps``): its own ``count`` rows, or [] when the file has no such log."""
        g = self._file.get(group)
        if g is None:
            return []
        try:
            ds = [g[k] for k in keys]
            if any(d.ndim != 1 for d in ds):
                raise ValueError("not one value per row")
            n = min(d.shape[0] for d in ds)
            if "count" in g:
                problem = count_problem(g["count"])
                if problem:
                    raise ValueError(f"count {problem}")
                n = min(n, int(g["count"][0]))
            return [d[:n] for d in ds]
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise SessionError(
                f"cannot read {group} of {self.path}: {one_line(exc)}; the file is damaged"
            ) from exc

    def events(self) -> list[tuple[float, str]]:
        """Markers set during recording, as (host-clock seconds, text)."""
        rows = self._log("events", ("time", "text"))
        if not rows:
            return []
        return [(float(t), _text(s)) for t, s in zip(*rows, strict=True)]

    def gaps(self) -> list[tuple[str, float, float, str]]:
        """Intervals a stream delivered nothing: (stream, start, end, message); end is
        NaN when the stream had not come back by the end of the recording."""
        rows = self._log("gaps", ("stream", "start", "end", "message"))
        if not rows:
            return []
        return [(_text(s), float(a), float(b), _text(m)) for s, a, b, m in zip(*rows, strict=True)]

    def refresh(self) -> None:
        """See frames flushed since opening (a session still being recorded)."""
        if self._file.swmr_mode:
            for g in self._file["streams"].values():
                for d in g.values():
                    d.refresh()
            if "truth" in self._file:
                for g in self._file["truth"].values():
                    for d in g.values():
                        d.refresh()
            if "events" in self._file:
                for d in self._file["events"].values():
                    d.refresh()
        self._cache.clear()

    def close(self) -> None:
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
