"""Which rig the preview uses, and whether it fits the source's streams.

The rig in force comes, in order of preference, from a rig file the person chose, the
rig the source knows (a session's recorded rig, a device's factory calibration) or,
for synthetic sources and replays of them, the true rig. A rig whose cameras do not
match the streams (another rig's file, another resolution) would silently misplace
every projected label, so it is refused with a message that says why.
"""

from __future__ import annotations

from calibration.rig import Rig, RigError
from drivers.base import SourceInfo
from drivers.types import StreamSpec

#: Streams a rig must describe to be used with a source that has them.
CAMERA_STREAMS = ("thermal", "depth", "color")


def rig_problem(rig: Rig, streams: dict[str, StreamSpec]) -> str | None:
    """Why ``rig`` does not fit ``streams`` (one line), or None if it does."""
    for name in CAMERA_STREAMS:
        if name not in streams:
            continue
        spec = streams[name]
        cam = rig.cameras.get(name)
        if cam is None:
            have = ", ".join(sorted(rig.cameras)) or "none"
            return (
                f"the rig has no '{name}' camera (it has {have}); choose the rig of these cameras"
            )
        if (cam.width, cam.height) != (spec.width, spec.height):
            return (
                f"the rig's '{name}' camera is {cam.width}x{cam.height} but the stream is"
                f" {spec.width}x{spec.height}; choose the rig calibrated at this resolution"
            )
    return None


def check_rig(rig: Rig, streams: dict[str, StreamSpec], origin: str = "rig") -> Rig:
    """``rig`` if it fits ``streams``; a RigError naming ``origin`` otherwise."""
    problem = rig_problem(rig, streams)
    if problem:
        raise RigError(f"{origin} does not fit this source: {problem}")
    return rig


def source_rig(info: SourceInfo) -> tuple[Rig | None, str]:
    """The rig a source brings, and where it came from (``""`` if none)."""
    if info.rig:
        return Rig.from_dict(info.rig), "recorded with the source"
    truth = info.truth or {}
    if truth.get("rig"):
        return Rig.from_dict(truth["rig"]), "true rig of the synthetic scene"
    return None, ""
