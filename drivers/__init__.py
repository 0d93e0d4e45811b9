"""Frames and streams, the Driver protocol, sources (synthetic, replay, cameras),
the synchronizer and the session recorder. Knows nothing of the GUI."""

from drivers.errors import EndOfStream, SessionError, SourceError, ThermorigError
from drivers.types import Frame, FrameSet, Intrinsics, StreamHealth, StreamSpec

__all__ = [
    "EndOfStream",
    "Frame",
    "FrameSet",
    "Intrinsics",
    "SessionError",
    "SourceError",
    "StreamHealth",
    "StreamSpec",
    "ThermorigError",
]
