"""Checking a session's rig before labels are carried through it.

The one place the app resolves which rig a session is checked against (``truth``, a
rig file, or the rig recorded with the session: the same rule as autolabel's
``--rig``) and runs the targetless check of :mod:`calibration.alignment` on it; the
``check-rig`` command, autolabel's refusal of a drifted rig and the window's badge
call this, so all three judge a rig alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.labels.autolabel import resolve_rig
from calibration.alignment import AlignmentResult, check_alignment
from drivers.errors import SessionError, ThermorigError
from drivers.session import SessionReader


def check_session_rig(
    session_path: str | Path,
    rig_spec: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[AlignmentResult, str]:
    """The check's result for the session's frames and the rig ``rig_spec`` names,
    and a description of that rig (for messages)."""
    with SessionReader(session_path) as session:
        rig, described = resolve_rig(rig_spec, session)
        return check_alignment(session, rig, progress=progress), described


def format_result(result: AlignmentResult, rig: str) -> str:
    """A short table for the terminal: verdict, then one row per camera."""
    verdict = "ok" if result.ok else "DRIFTED"
    lines = [
        f"rig check: {verdict} ({rig}; {result.seconds:.1f} s)",
        f"{'camera':<8} {'rotation':>9} {'clock':>9} {'edge px':>8} {'refined px':>10}",
    ]
    for name, cam in result.per_camera.items():
        if not cam.get("estimated"):
            lines.append(f"{name:<8} not estimated: {cam.get('reason', '')}")
            continue
        clock = result.time_offset_ms.get(name)
        shown = f"{clock:+.1f} ms" if clock is not None else "-"
        lines.append(
            f"{name:<8} {cam['rotation_deg']:>7.2f} ° {shown:>9} {cam['edge_error_px']:>8.2f}"
            f" {cam['edge_error_refined_px']:>10.2f}"
        )
    lines.append(f"score {result.score:.3f} (share of depth contour points within 3 px)")
    lines += [f"  {r}" for r in result.reasons]
    return "\n".join(lines)


def require_aligned(
    session_path: str | Path,
    rig_spec: str | None,
    target: str = "thermal",
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Before labels are carried through a rig: ThermorigError (one line, how to fix)
    if the check calls it drifted; otherwise a note on what was checked, or why not."""
    with SessionReader(session_path) as session:
        rig, described = resolve_rig(rig_spec, session)
        try:
            result = check_alignment(session, rig, target=target, progress=progress)
        except SessionError as exc:
            return f"rig not checked: {exc}"
    if result.ok:
        return f"rig check: ok ({result.rotation_error_deg:.2f}°)"
    found = "; ".join(result.reasons)
    raise ThermorigError(
        f"the rig ({described}) fails the rig check: {found}; check it with `thermorig"
        f" check-rig {session_path} --rig ... --refine NEW.json` and label with the refined"
        " rig, or pass --force to label with this one anyway"
    )
