"""Lepton telemetry rows built from the documented layout, for the UVC driver's tests.

The layout is written down here from FLIR's datasheet and two public implementations
(cited below), never taken from drivers/uvc.py: a test built from the parser's own
offsets would pass whatever those offsets are.
"""

from __future__ import annotations

import numpy as np

#: Telemetry row A as the Lepton sends it: field -> (first 16-bit word, words); a
#: 32-bit value is sent least significant word first. Written down here from the
#: sources, not from drivers/uvc.py:
#: - the PureThermal board's firmware, which builds the UVC frames:
#:   groupgets/purethermal1-firmware, Inc/lepton.h, ``struct telemetry_data_l3``
#:   (Lepton 3.x) and ``telemetry_data_l2`` (Lepton 2.x), words numbered in comments;
#: - flirpy reading a PureThermal's Y16 frames on the host:
#:   LJMUAstroecology/flirpy, flirpy/camera/lepton.py, ``Lepton.decode_telemetry``
#:   (``struct.unpack("<2cII16x4h6xIh2xh8xhI4xhhhhhh64xI172x")`` on the first
#:   telemetry line: host-order words, 32-bit values low word first, words 25-28
#:   skipped);
#: - the status bits from FLIR's Lepton Engineering Datasheet 500-0659-00-09 rev 203,
#:   Table 3 "Status Bit Encoding (Telemetry Row A, words 3 and 4)", p. 29
#:   (https://manualshive.com/ru/manual/flir/lepton-1-5/2305713?page=29).
ROW_A = {
    "revision": (0, 1),
    "time_counter_ms": (1, 2),
    "status": (3, 2),
    "software_revision": (13, 4),
    "frame_counter": (20, 2),
    "frame_mean": (22, 1),
    "fpa_temp_counts": (23, 1),
    "fpa_temp_ck": (24, 1),  # kelvin x 100
    "fpa_temp_last_ffc_ck": (29, 1),
    "time_counter_last_ffc_ms": (30, 2),
    "agc_roi": (34, 4),
    "agc_clip_limit_high": (38, 1),
    "agc_clip_limit_low": (39, 1),
    "video_output_format": (72, 2),
}
#: Lepton 2.x (``telemetry_data_l2``): a housing temperature in words 25-26 (reserved on
#: 3.x), and ``log2_ffc_frames`` where 3.x has the video format.
ROW_A_LEPTON2 = {
    **{k: v for k, v in ROW_A.items() if k != "video_output_format"},
    "housing_temp_counts": (25, 1),
    "housing_temp_ck": (26, 1),
    "log2_ffc_frames": (74, 1),
}
#: Status bits (datasheet Table 3): 3 FFC desired; 4-5 FFC state (0 never commanded,
#: 1 imminent, 2 in progress, 3 complete); 12 AGC on; 15 shutter lockout; 20 over-
#: temperature shutdown imminent (bit 4 of word 4).
FFC_DESIRED, FFC_STATE_SHIFT, AGC, SHUTTER_LOCKOUT, OVERTEMP = 1 << 3, 4, 1 << 12, 1 << 15, 1 << 20


def put(row: np.ndarray, layout: dict, field: str, value: int) -> None:
    """Write ``value`` into ``row`` where ``layout`` puts ``field``, low word first."""
    first, n = layout[field]
    for k in range(n):
        row[first + k] = (value >> (16 * k)) & 0xFFFF


def lepton_frame(
    image: np.ndarray, counter: int, ffc_state: int = 3, uptime_ms: int = 50_000
) -> np.ndarray:
    """160×122 words: the image, then telemetry row A in the first 80 words of row 120."""
    frame = np.zeros((122, 160), np.uint16)
    frame[:120] = image
    a = frame[120, :80]
    put(a, ROW_A, "revision", 14)
    put(a, ROW_A, "time_counter_ms", uptime_ms)
    status = (ffc_state << FFC_STATE_SHIFT) | (FFC_DESIRED if ffc_state == 1 else 0)
    put(a, ROW_A, "status", status)
    put(a, ROW_A, "frame_counter", counter)
    put(a, ROW_A, "frame_mean", int(image.mean()))
    put(a, ROW_A, "fpa_temp_ck", 30815)  # FPA 35.00 °C
    put(a, ROW_A, "time_counter_last_ffc_ms", uptime_ms - 12_000)
    return frame


def row_a(layout: dict, **values: int) -> np.ndarray:
    """Row A with every reserved word set to 0xBEEF, so a field read from the wrong
    word shows as that, then ``values`` written where ``layout`` puts them."""
    row = np.full(80, 0xBEEF, np.uint16)
    for first, n in layout.values():
        row[first : first + n] = 0
    for field, value in values.items():
        put(row, layout, field, value)
    return row
