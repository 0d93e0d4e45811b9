"""What a calibration error costs the labels: measured figures for the rig checks.

Plain data, no code: a rig check (targetless or with a board) imports its thresholds
from here instead of guessing them. Measured with::

    thermorig simulate cycling.h5 --seconds 10            # seed 0, free-running clocks
    thermorig experiment calibration-sensitivity cycling.h5 --frames 20

(``app/analysis/calibration_sensitivity.py``): the true RGB labels carried into thermal
as ``thermorig autolabel`` does, with the true rig and with it perturbed, scored as
``thermorig evaluate`` does (mean strict IoU over left and right calf) on 20 thermal
frames (640×512, focal length 768 px). The treadmill scene (``--scene treadmill``)
gave the same picture (thermal pan 0.50 IoU per degree, tilt 0.20, clock 0.0054 per
ms; 0.02 IoU at 0.046 degrees and 4.7 ms); the tables of both are in
``docs/calibration-sensitivity.md``.

Axes are the camera's own: x right (a turn about x tilts the view up or down), y down
(a turn about y pans it sideways — across the calves, hence the largest loss), z along
the view (a roll). Losses per unit are the steepest mean rate from zero over the
measured magnitudes (0.1, 0.25, 0.5, 1, 3, 5 deg; 2, 5, 10 mm; 5, 10, 33, 66 ms). The
error that costs a given IoU is interpolated linearly between measured magnitudes
(from zero loss at zero error), on the worst axis: conservative, since the loss grows
more slowly than linearly at the smallest errors.
"""

from __future__ import annotations

#: Mean calf IoU of the transfer with the true rig on that session (the reference).
BASELINE_IOU = 0.9583
#: Boundary error (px, mean symmetric) of the transfer with the true rig.
BASELINE_BOUNDARY_PX = 0.80

#: IoU lost per degree a camera turns, by camera and axis. The ThermoCycleNet authors
#: proposed automated verification before labelling if this exceeds 0.1 per degree.
IOU_LOSS_PER_DEG = {
    "thermal": {"x": 0.1480, "y": 0.4397, "z": 0.0489},
    "color": {"x": 0.1413, "y": 0.2620, "z": 0.0327},
}
#: IoU lost per millimetre the thermal camera moves (z: under 0.005 at 10 mm).
IOU_LOSS_PER_MM = {"thermal": {"x": 0.0168, "y": 0.0050, "z": 0.0004}}
#: IoU lost per millisecond the thermal host timestamps are late (pedalling at 70 rpm).
IOU_LOSS_PER_MS = {"thermal": 0.0051}

#: The error that costs each IoU loss (key), worst axis.
ROTATION_DEG_FOR_LOSS = {
    "thermal": {0.02: 0.049, 0.05: 0.120},
    "color": {0.02: 0.195, 0.05: 0.309},
}
TRANSLATION_MM_FOR_LOSS = {"thermal": {0.02: 1.35, 0.05: 3.14}}
CLOCK_MS_FOR_LOSS = {"thermal": {0.02: 4.68, 0.05: 9.85}}
#: The boundary error (px) that goes with each IoU loss (a line through every camera
#: rotation and translation losing at most 0.2): what a check in pixels should use.
BOUNDARY_PX_FOR_LOSS = {0.02: 1.35, 0.05: 2.22}
#: The same losses as a displacement of the thermal image (px) — what a board or marker
#: check measures (a point's transfer error): the worst-axis rotation above times the
#: thermal focal length (768 px × tan(angle)). The paper's "recalibrate above 5 px"
#: rule allows up to 0.16 IoU (5 px is a pan of 0.37 degrees).
IMAGE_SHIFT_PX_FOR_LOSS = {0.02: 0.66, 0.05: 1.61}
