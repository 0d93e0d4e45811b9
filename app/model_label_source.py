"""The ``model:NAME`` label source: an RGB visual labeler run on each frame.

Registered under ``model`` in :mod:`app.label_sources`, replacing its placeholder
entry. ``NAME`` is a visual labeler :func:`models.visual_labeler.open_visual_labeler`
knows (``mediapipe-pose``, the default when NAME is empty) or a folder with its ONNX
files. A frame where the labeler is not confident (no person, legs out of the frame)
gives no label (None) rather than a wrong one, so auto-labeling leaves it unlabeled.
"""

from __future__ import annotations

import numpy as np

from app.label_sources import label_source
from drivers.errors import ThermorigError
from drivers.session import SessionReader


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
