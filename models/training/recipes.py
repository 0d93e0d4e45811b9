"""Named training recipes for ``thermorig train``: architecture, input, steps and
augmentation in one name, so that a package's provenance says how it was made in a
word and two labs running the same recipe train the same way.

``unet-small`` is the bundled models' recipe (:mod:`models.training.train_bundled`):
the TinyUNet at 320×256 thermal input, 15-40 °C. ``unet-tiny`` halves its channels:
four times fewer multiply-adds, for slow machines and for smoke runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.training.dataset import Augment

TASKS = ("segmenter", "keypoints")


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    channels: tuple[int, int, int, int]
    steps: int
    quick_steps: int
    input_size: tuple[int, int] = (320, 256)
    window_c: tuple[float, float] = (15.0, 40.0)
    batch_size: int = 12
    #: Thermal-fit augmentation: mirror, scale, shift and a few degrees of rotation;
    #: °C offset/gain (= window jitter) and sensor noise; no colour jitter.
    augment: Augment = Augment(rotate_deg=5.0)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "unet-small",
            "the bundled models' TinyUNet (16-64 channels, ~145k parameters), 700 steps",
            (16, 24, 40, 64),
            steps=700,
            quick_steps=12,
        ),
        Recipe(
            "unet-tiny",
            "TinyUNet at half the channels (8-32), 500 steps: for slow machines",
            (8, 12, 20, 32),
            steps=500,
            quick_steps=12,
        ),
    )
}


def recipe_help() -> str:
    """One line per recipe, for ``--help``."""
    return "; ".join(f"{r.name}: {r.summary}" for r in RECIPES.values())
