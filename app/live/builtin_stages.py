"""The preview's built-in overlay stages, registered in drawing order, and their caps.

Registering a stage is not a GUI matter (the View › Overlays toggles are): the live
controller registers these on its own registry, and the window only offers a toggle
for every stage it finds there.
"""

from __future__ import annotations

from app.live.model_stages import model_stage
from app.live.projected_labels import ProjectedLabelsStage, truth_labeler
from app.live.stages import StageRegistry, truth_labels_stage
from models.catalog import BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER

#: Projected labels per second at most: none. Every FrameSet gets its labels (about
#: 12 ms each, half a core at 30/s) because the preview holds each frame until its
#: labels arrive (app.live.pacing); a cap would leave frames waiting for labels that
#: never come. If the machine cannot keep up, the pacer stops holding by itself.
PROJECTED_MAX_RATE: float | None = None
#: Model overlays per second at most, on one onnxruntime thread each: a model is the
#: costliest stage, and capture and display come first on a small machine.
MODEL_MAX_RATE = 10.0
#: Overlay names of the bundled models.
BUNDLED_OVERLAYS = ("model-seg", "model-kp")


def register_builtin_stages(registry: StageRegistry) -> ProjectedLabelsStage:
    """Projected labels (on), the ground-truth outline and the bundled models (off);
    returns the projected-labels stage (the rig and the RGB labeler are set on it)."""
    projected = ProjectedLabelsStage(truth_labeler("color"))
    registry.register(
        "projected",
        projected,
        title="Projected labels (RGB → thermal)",
        max_rate=PROJECTED_MAX_RATE,
    )
    registry.register(
        "truth",
        truth_labels_stage("thermal", outline=True),
        title="Ground-truth labels (synthetic, outline)",
        enabled=False,
    )
    # Off until asked for: loading is lazy (on the worker), so they cost nothing then.
    titles = ("Thermal segmenter (bundled)", "Keypoints (bundled)")
    models = (BUNDLED_SEGMENTER, BUNDLED_KEYPOINTS)
    for name, model, title in zip(BUNDLED_OVERLAYS, models, titles, strict=True):
        stage = model_stage(model, "thermal", threads=1)
        registry.register(name, stage, title=title, enabled=False, max_rate=MODEL_MAX_RATE)
    return projected
