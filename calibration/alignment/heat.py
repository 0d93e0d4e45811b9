"""Heat the person does not explain: radiators, fans, a passer-by — kept out of the check.

The check compares the thermal silhouette of what is warm with the depth camera's near
foreground. A lab's room has other warm things: a radiator on the wall (38-60 °C, hotter
than skin), a fan's motor, someone walking past behind the subject. Taken as part of
the silhouette they do two kinds of harm, measured on simulated studies whose rooms
have them (docs/rig-check.md): a radiator sets the "skin" percentile, so the warm
threshold lands above the legs; and a leg in front of a radiator merges with it, so
that leg's depth contour lies *inside* the silhouette and pulls the rotation fit.
With the true rig, half of such sessions read as drifted by 0.3-4.8°.

So the thresholds and the silhouette's border are taken only where the depth camera
explains them:

- the **person's temperature** is read inside the near foreground carried into the
  thermal image through the rig (the legs and body are there; the radiator on the far
  wall is not), the room's outside it;
- a warm pixel farther than :data:`EXPLAIN_DEG` of view from the foreground is
  **unexplained**; the signed distance is left undefined (NaN: the fit ignores points
  there) within that radius of it, which reaches the border of a leg in front of it.

The foreground comes through the rig under test, which may be off: the radius covers
rotations well beyond the drift the check must measure (0.25° limit, 2° a clear
drift), so a turned camera still has its own person explained.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Half-angle of view (degrees) around the depth foreground within which warmth counts
#: as the person's: 3° is 40 px at a 768 px focal length.
EXPLAIN_DEG = 3.0
#: The person's temperature: this percentile of the thermal pixels inside the
#: foreground (the foreground holds shoes, bike or treadmill too, which are cooler).
PERSON_PERCENTILE = 90
#: A pixel unexplained in at least this share of the sampled frames is a fixed heat
#: source; the clock estimate leaves it out (it does not move with the legs).
FIXED_SHARE = 0.3


def explain_radius_px(focal_px: float) -> int:
    """Pixels of :data:`EXPLAIN_DEG` at this focal length."""
    return max(1, round(focal_px * math.tan(math.radians(EXPLAIN_DEG))))


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def near_region(foreground: np.ndarray, radius: int) -> np.ndarray:
    """0/1 uint8: within ``radius`` pixels of the foreground."""
    return cv2.dilate(foreground.astype(np.uint8), _disk(radius))


def person_threshold(
    thermals: list[np.ndarray], foregrounds: list[np.ndarray], near: list[np.ndarray], share: float
) -> float | None:
    """The warm threshold from the person's temperature (inside the foregrounds) and
    the room's (outside the regions near it); None when the foregrounds are empty."""
    inside = [t[f > 0] for t, f in zip(thermals, foregrounds, strict=True)]
    outside = [t[n == 0][::7] for t, n in zip(thermals, near, strict=True)]
    inside_all = np.concatenate(inside) if inside else np.empty(0)
    outside_all = np.concatenate(outside) if outside else np.empty(0)
    if inside_all.size < 100 or outside_all.size < 100:
        return None
    person = float(np.percentile(inside_all.astype(np.float32), PERSON_PERCENTILE))
    room = float(np.median(outside_all.astype(np.float32)))
    if person <= room:
        return None
    return room + share * (person - room)


def unexplained(warm: np.ndarray, near: np.ndarray, radius: int) -> np.ndarray:
    """Bool: within ``radius`` pixels of warm pixels that are not near the foreground
    (where the silhouette's border is not the person's)."""
    lone = (warm > 0) & (near == 0)
    if not lone.any():
        return np.zeros(warm.shape, bool)
    return cv2.dilate(lone.astype(np.uint8), _disk(radius)) > 0
