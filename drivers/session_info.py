"""A session file summarised: what ``thermorig info`` prints and the GUI shows.

Figures are measured from what was recorded (timestamps), not from what the devices
claimed, so a camera that ran slow or dropped frames shows up here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from drivers.session import SessionReader
from drivers.session_state import (
    NEEDS_REPAIR,
    RECORDING,
    repair_advice,
    repair_command,
    session_state,
)
from drivers.sync import match_timestamps


def measured_fps(timestamps: np.ndarray) -> float:
    if len(timestamps) < 2:
        return 0.0
    span = float(timestamps[-1] - timestamps[0])
    return (len(timestamps) - 1) / span if span > 0 else 0.0


def describe_session(path: str | os.PathLike) -> dict[str, Any]:
    """Everything ``thermorig info`` reports, as a JSON-ready dict."""
    path = Path(path)
    with SessionReader(path) as reader:
        state = session_state(path)
        streams: dict[str, Any] = {}
        stamps: dict[str, np.ndarray] = {}
        for name, spec in reader.streams.items():
            ts = reader.timestamps(name)
            problem = reader.timestamp_problem(name)
            if problem is None:  # Figures from a broken clock would be nonsense.
                stamps[name] = ts
            diffs = np.diff(ts) if problem is None else np.zeros(0)
            streams[name] = {
                "kind": spec.kind,
                "shape": list(spec.shape),
                "dtype": spec.dtype,
                "units": spec.units,
                "depth_scale": spec.depth_scale,
                "device": spec.device,
                "frames": int(len(ts)),
                "nominal_fps": spec.fps,
                "measured_fps": None if problem else round(measured_fps(ts), 3),
                "first_timestamp": float(ts[0]) if len(ts) and not problem else None,
                "last_timestamp": float(ts[-1]) if len(ts) and not problem else None,
                "timestamps_monotonic": bool(np.all(diffs > 0)) if len(ts) > 1 else True,
                "timestamp_problem": problem,
                "max_gap_s": round(float(diffs.max()), 6)
                if len(diffs)
                else (None if problem else 0.0),
                "stored_uncompressed": reader.stored_raw(name),
                "intrinsics": spec.intrinsics.to_dict() if spec.intrinsics else None,
            }
        nonempty = {n: t for n, t in stamps.items() if len(t)}
        starts = [t[0] for t in nonempty.values()]
        ends = [t[-1] for t in nonempty.values()]
        duration = float(max(ends) - min(starts)) if starts else 0.0
        sync = None
        if len(nonempty) > 1:
            _, stats = match_timestamps(nonempty, {n: reader.streams[n].fps for n in nonempty})
            sync = stats.to_dict()
        truth = reader.truth
        return {
            "path": str(path),
            "format": reader.attrs.get("format"),
            "version": reader.attrs.get("version"),
            "created": reader.attrs.get("created"),
            "activity": reader.attrs.get("activity"),
            "subject": reader.attrs.get("subject", ""),
            "notes": reader.attrs.get("notes", ""),
            "source": reader.attrs.get("source", ""),
            "file_bytes": path.stat().st_size,
            "state": state,
            "needs_repair": state == NEEDS_REPAIR,
            "repair_command": repair_command(path) if state == NEEDS_REPAIR else None,
            "duration_s": round(duration, 6),
            "streams": streams,
            "sync": sync,
            "events": [{"time": t, "text": s} for t, s in reader.events()],
            "gaps": [
                {"stream": s, "start": a, "end": None if b != b else b, "message": m}
                for s, a, b, m in reader.gaps()
            ],
            "rig": reader.rig is not None,
            "truth": None
            if truth is None
            else {
                "rig": truth.get("rig") is not None,
                "classes": truth.get("classes"),
                "keypoints": truth.get("keypoints"),
                "board": truth.get("board"),
            },
        }


def format_session(d: dict[str, Any]) -> str:
    """The human-readable table of ``thermorig info``."""
    lines = [
        f"{d['path']}  ({d['format']} v{d['version']}, {d['file_bytes'] / 1e6:.1f} MB)",
        f"created {d['created']}  activity {d['activity']}  subject {d['subject'] or '-'}",
        f"duration {d['duration_s']:.2f} s   source {d['source'] or '-'}",
    ]
    if d.get("needs_repair"):
        lines.append(f"needs repair: {repair_advice(d['path'])}")
    elif d.get("state") == RECORDING:
        lines.append("being recorded: a running thermorig is writing it; figures are as of now")
    lines += [
        "",
        f"{'stream':<8} {'shape':<14} {'dtype':<7} {'units':<12} {'frames':>6} "
        f"{'fps':>6} {'meas.':>7} {'max gap':>8}",
    ]
    for name, s in d["streams"].items():
        shape = "x".join(str(v) for v in s["shape"])
        fps = "-" if s["measured_fps"] is None else f"{s['measured_fps']:.2f}"
        gap = "-" if s["max_gap_s"] is None else f"{s['max_gap_s'] * 1e3:.1f}ms"
        lines.append(
            f"{name:<8} {shape:<14} {s['dtype']:<7} {s['units']:<12} {s['frames']:>6} "
            f"{s['nominal_fps']:>6.1f} {fps:>7} {gap:>8}"
        )
    raw = {n: s["stored_uncompressed"] for n, s in d["streams"].items()}
    if any(raw.values()):
        counts = ", ".join(f"{n} {c}" for n, c in raw.items() if c)
        lines.append(f"stored uncompressed (the machine was busy while recording): {counts}")
    lines += [
        f"warning: {s['timestamp_problem']}; autolabel, replay, calibrate and stats refuse"
        " this stream, which match frames by time"
        for s in d["streams"].values()
        if s["timestamp_problem"]
    ]
    sync = d.get("sync")
    if sync:
        lines += [
            "",
            f"sync: pivot {sync['pivot']}, tolerance {sync['tolerance_s'] * 1e3:.1f} ms, "
            f"{sync['complete_sets']}/{sync['sets']} complete sets",
        ]
        for name, off in sync["offset_ms"].items():
            lines.append(
                f"  {name:<7} matched {sync['matched'][name]:>5}  missing {sync['missing'][name]:>4}  "
                f"duplicated {sync['duplicated'][name]:>3}  offset {off['mean']:+.1f} ± {off['std']:.1f} ms"
            )
    lines.append("")
    lines.append(f"rig: {'yes' if d['rig'] else 'no'}")
    t = d.get("truth")
    if t:
        lines.append(
            f"ground truth: rig {'yes' if t['rig'] else 'no'}, classes {', '.join(t['classes'] or [])}"
            + (f", board {t['board']}" if t.get("board") else "")
        )
    else:
        lines.append("ground truth: no")
    for g in d["gaps"]:
        end = "end of recording" if g["end"] is None else f"{g['end']:.3f}"
        lines.append(f"gap: {g['stream']} no frames {g['start']:.3f} .. {end}  ({g['message']})")
    if d["events"]:
        lines.append(f"events: {len(d['events'])}")
        lines += [f"  {e['time']:.3f}  {e['text']}" for e in d["events"][:20]]
    return "\n".join(lines)
