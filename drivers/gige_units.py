"""What a GigE Vision thermal camera's pixels mean, and how they become centikelvin.

thermorig's thermal streams are in centikelvin (0.01 K per count, uint16) so that every
later step (labels, statistics, export) reads temperatures the same way. A GigE camera
says what it sends in one of two ways:

- FLIR A-series (A400/A500/A700, A655sc, ...) have the GenICam feature ``IRFormat``:
  ``TemperatureLinear10mK`` sends centikelvin already; ``TemperatureLinear100mK`` sends
  decikelvin (×10 here, clipped at the top of uint16, 655.35 K); ``Radiometric`` sends
  sensor counts whose conversion needs the camera's Planck constants and the object's
  emissivity, distance and atmosphere — not done here, so those frames stay counts.
- Cameras without it (InfraTec, Optris, Workswell, or a FLIR in Radiometric) send
  counts; a linear calibration ``kelvin = counts × kelvin_per_count + kelvin_offset``
  given as options turns them into centikelvin. Without one the stream's units say
  ``counts``, honestly: no code downstream takes them for temperatures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivers.errors import SourceError

#: FLIR IRFormat entries → centikelvin per count (None: not a temperature).
IR_FORMATS: dict[str, float | None] = {
    "TemperatureLinear10mK": 1.0,
    "TemperatureLinear100mK": 10.0,
    "Radiometric": None,
}


@dataclass(frozen=True)
class Conversion:
    """Pixels as the camera sends them → the stream's pixels, and what they are."""

    units: str  # "centikelvin" or "counts"
    note: str
    convert: Callable[[np.ndarray], np.ndarray]


def _as_is(raw: np.ndarray) -> np.ndarray:
    return raw


def _scaled(factor: float, offset_ck: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    def convert(raw: np.ndarray) -> np.ndarray:
        ck = raw.astype(np.float32) * np.float32(factor) + np.float32(offset_ck)
        return np.clip(np.rint(ck), 0, 65535).astype(np.uint16)

    return convert


def conversion_for(
    ir_format: str | None,
    pixel_format: str,
    kelvin_per_count: float | None = None,
    kelvin_offset: float | None = None,
) -> Conversion:
    """How to read frames of ``pixel_format`` (Mono16 or Mono8) sent in ``ir_format``
    (the camera's IRFormat, None if it has none), with an optional linear calibration.

    A calibration given by the user wins over IRFormat: it is what they measured.
    """
    if (kelvin_per_count is None) != (kelvin_offset is None):
        raise SourceError(
            "a linear calibration needs both kelvin_per_count and kelvin_offset "
            "(kelvin = counts × kelvin_per_count + kelvin_offset)"
        )
    if kelvin_per_count is not None and kelvin_offset is not None:
        if not kelvin_per_count > 0:
            raise SourceError(f"kelvin_per_count must be positive, got {kelvin_per_count}")
        return Conversion(
            "centikelvin",
            f"linear calibration: K = counts × {kelvin_per_count:g} + {kelvin_offset:g}",
            _scaled(100.0 * kelvin_per_count, 100.0 * kelvin_offset),
        )
    if ir_format is not None and pixel_format == "Mono16":
        if ir_format not in IR_FORMATS:
            raise SourceError(
                f"the camera's IRFormat is '{ir_format}', which thermorig does not know "
                f"(known: {', '.join(IR_FORMATS)}); set IRFormat=TemperatureLinear10mK"
            )
        factor = IR_FORMATS[ir_format]
        if factor == 1.0:
            return Conversion("centikelvin", "IRFormat TemperatureLinear10mK: as sent", _as_is)
        if factor is not None:
            return Conversion(
                "centikelvin", f"IRFormat {ir_format}: ×{factor:g} to centikelvin", _scaled(factor)
            )
    what = f"IRFormat {ir_format}" if ir_format else f"{pixel_format} without IRFormat"
    return Conversion(
        "counts",
        f"{what}: sensor counts, not temperatures (set IRFormat=TemperatureLinear10mK, "
        "or give kelvin_per_count and kelvin_offset)",
        _as_is,
    )
