"""What each model task needs: which output it expects and how to read it.

A registry (task name → :class:`TaskHandler`) instead of if-chains in the runner and
the validator: adding a task is adding one entry. A visual labeler is a segmenter of
the colour stream, so it shares the segmenter's reading of the output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.errors import ModelError
from models.postprocess import KEYPOINT_DECODERS, ModelResult, segmentation
from models.preprocess import Geometry
from models.spec import Manifest

#: One dimension of an expected output shape: a size, any size (None), or a choice.
Dim = int | None | tuple[int, ...]


@dataclass(frozen=True)
class TaskHandler:
    name: str
    #: Output kinds (``output.kind`` in the JSON) this task can read.
    output_kinds: tuple[str, ...]
    #: The manifest field naming what the outputs mean (``classes`` or ``keypoints``).
    names_field: str
    expected_output: Callable[[Manifest], tuple[Dim, ...]]
    decode: Callable[[Manifest, np.ndarray, Geometry], ModelResult]

    def names(self, m: Manifest) -> tuple[str, ...]:
        return getattr(m, self.names_field)


TASK_HANDLERS: dict[str, TaskHandler] = {}


def register_task(handler: TaskHandler) -> TaskHandler:
    TASK_HANDLERS[handler.name] = handler
    return handler


def handler_for(task: str) -> TaskHandler:
    try:
        return TASK_HANDLERS[task]
    except KeyError:
        raise ModelError(
            f"unknown model task {task!r}; use one of {', '.join(TASK_HANDLERS)}"
        ) from None


def _seg_shape(m: Manifest) -> tuple[Dim, ...]:
    return (1, len(m.classes), None, None)


def _seg_decode(m: Manifest, out: np.ndarray, g: Geometry) -> ModelResult:
    result = segmentation(out, g, len(m.classes))
    result.task = m.task
    return result


def _kp_shape(m: Manifest) -> tuple[Dim, ...]:
    k = len(m.keypoints)
    return (1, k, None, None) if m.output.kind == "heatmaps" else (1, k, (2, 3))


def _kp_decode(m: Manifest, out: np.ndarray, g: Geometry) -> ModelResult:
    decoder = KEYPOINT_DECODERS[m.output.kind]
    return decoder(
        out, g, len(m.keypoints), min_score=m.output.min_score, units=m.output.coordinates
    )


register_task(TaskHandler("segmentation", ("logits",), "classes", _seg_shape, _seg_decode))
register_task(TaskHandler("visual-labeler", ("logits",), "classes", _seg_shape, _seg_decode))
register_task(
    TaskHandler("keypoints", tuple(KEYPOINT_DECODERS), "keypoints", _kp_shape, _kp_decode)
)
