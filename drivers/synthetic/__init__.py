"""The synthetic rig: a rendered thermal + ToF depth + RGB rig with exact ground truth.

``synthetic:cycling``, ``synthetic:treadmill`` and ``synthetic:calibration`` render a
subject's legs (or a heated calibration board — by default the coded target, whose
marker fixes its orientation) in 3-D through a known rig, so that calibration, label
transfer and models can be measured against the truth. The calibration scene also
delivers the depth camera's IR (amplitude) stream ``ir``, which the depth camera is
calibrated from.
"""

from drivers.synthetic.bench import render_rate
from drivers.synthetic.config import SCENES, SyntheticConfig, parse_board
from drivers.synthetic.driver import SyntheticDriver, open_synthetic

__all__ = [
    "SCENES",
    "SyntheticConfig",
    "SyntheticDriver",
    "open_synthetic",
    "parse_board",
    "render_rate",
]
