"""RealSense streams as thermorig streams: pixel formats, names, intrinsics, the rig.

Shared by the live driver (drivers.realsense) and recording playback (drivers.rsbag),
so that a recording of a camera describes itself exactly as the camera did. Nothing
here imports pyrealsense2 at module import; ``thermorig --help`` stays fast.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from drivers.errors import SourceError
from drivers.types import Intrinsics, StreamSpec


def _rs() -> Any:
    try:
        import pyrealsense2 as rs
    except ImportError as exc:  # pragma: no cover - pyrealsense2 is a dependency
        raise SourceError(
            f"pyrealsense2 is not usable here ({exc}); pip install pyrealsense2"
        ) from None
    return rs


# -- pixels ---------------------------------------------------------------------------


def frame_to_array(frame: Any, fmt_name: str) -> np.ndarray:
    """A RealSense video frame's pixels as an owned array in thermorig's layout."""
    data = np.asanyarray(frame.get_data())
    if fmt_name in ("z16", "y16"):
        return np.array(data, dtype=np.uint16, copy=True)
    if fmt_name == "y8":
        return np.array(data, dtype=np.uint8, copy=True)
    if fmt_name == "rgb8":
        return np.array(data, copy=True)
    if fmt_name == "bgr8":
        return np.ascontiguousarray(data[..., ::-1])
    if fmt_name == "rgba8":
        return np.ascontiguousarray(data[..., :3])
    if fmt_name == "bgra8":
        return np.ascontiguousarray(data[..., 2::-1])
    if fmt_name in ("yuyv", "uyvy"):
        import cv2

        h, w = frame.get_height(), frame.get_width()
        code = cv2.COLOR_YUV2RGB_YUYV if fmt_name == "yuyv" else cv2.COLOR_YUV2RGB_UYVY
        return cv2.cvtColor(np.asarray(data, dtype=np.uint8).reshape(h, w, 2), code)
    raise SourceError(f"RealSense format {fmt_name} is not supported")


#: RealSense format → (dtype, channels) after :func:`frame_to_array`.
FORMATS: dict[str, tuple[str, int]] = {
    "z16": ("uint16", 1),
    "y16": ("uint16", 1),
    "y8": ("uint8", 1),
    "rgb8": ("uint8", 3),
    "bgr8": ("uint8", 3),
    "rgba8": ("uint8", 3),
    "bgra8": ("uint8", 3),
    "yuyv": ("uint8", 3),
    "uyvy": ("uint8", 3),
}

_KIND_UNITS = {
    "depth": ("depth", "depth_units"),
    "color": ("color", "rgb"),
    "ir": ("ir", "intensity"),
    # A Y16 stream from a non-depth sensor in a RealSense recording is a thermal camera
    # recorded alongside; thermal integrations write TLinear centikelvin.
    "thermal": ("thermal", "centikelvin"),
}


def fmt_name(profile: Any) -> str:
    return str(profile.format()).rsplit(".", 1)[-1].lower()


def stream_type_name(profile: Any) -> str:
    return str(profile.stream_type()).rsplit(".", 1)[-1].lower()


def stream_name_for(profile: Any, on_depth_sensor: bool) -> str | None:
    """thermorig's name for a RealSense stream, or None for streams it does not use.

    Z16 → depth; colour formats → color; Y8 → ir; Y16 → ir on the depth sensor (its
    IR imager in 16-bit), else thermal (a thermal camera recorded into the file).
    """
    fmt, kind = fmt_name(profile), stream_type_name(profile)
    if fmt not in FORMATS or kind in ("gyro", "accel", "pose", "confidence", "motion"):
        return None
    if fmt == "z16":
        return "depth" if kind == "depth" else None
    if fmt in ("rgb8", "bgr8", "rgba8", "bgra8", "yuyv", "uyvy"):
        return "color"
    if fmt == "y8":
        return "ir"
    return "ir" if on_depth_sensor else "thermal"


def is_depth_sensor(sensor: Any) -> bool:
    if sensor.is_depth_sensor():
        return True
    return any(fmt_name(p) == "z16" for p in sensor.get_stream_profiles())


# -- geometry -------------------------------------------------------------------------


def intrinsics_of(profile: Any) -> tuple[Intrinsics | None, str]:
    """Pinhole + distortion in OpenCV's order, and librealsense's model name."""
    try:
        i = profile.as_video_stream_profile().get_intrinsics()
    except RuntimeError:
        return None, ""
    model = str(i.model).rsplit(".", 1)[-1]
    K = ((float(i.fx), 0.0, float(i.ppx)), (0.0, float(i.fy), float(i.ppy)), (0.0, 0.0, 1.0))
    # Brown–Conrady variants store (k1, k2, p1, p2, k3): OpenCV's order. Other models
    # (Kannala–Brandt, F-theta) keep their coefficients; the model goes into info.
    return Intrinsics(int(i.width), int(i.height), K, tuple(float(c) for c in i.coeffs)), model


def transform_of(extrinsics: Any) -> np.ndarray:
    """librealsense extrinsics (rotation column-major) as a 4×4 matrix."""
    T = np.eye(4)
    T[:3, :3] = np.asarray(extrinsics.rotation, dtype=np.float64).reshape(3, 3).T
    T[:3, 3] = np.asarray(extrinsics.translation, dtype=np.float64)
    return T


def rig_from_profiles(profiles: dict[str, Any], source: str) -> dict[str, Any] | None:
    """The device's own calibration as a rig dict (docs/formats/rig.md), reference ``depth``.

    ``T_ref_cam`` of a camera is the extrinsics *from* it *to* depth (it maps the
    camera's points into the depth frame). Streams without intrinsics or extrinsics to
    depth are left out; without a depth stream there is no rig.
    """
    if "depth" not in profiles:
        return None
    cameras: dict[str, Any] = {}
    for name, profile in profiles.items():
        intr, _ = intrinsics_of(profile)
        if intr is None:
            continue
        try:
            T = transform_of(profile.get_extrinsics_to(profiles["depth"]))
        except RuntimeError:
            if name != "depth":
                continue
            T = np.eye(4)
        d = intr.to_dict()
        d["T_ref_cam"] = T.tolist()
        cameras[name] = d
    return {
        "reference": "depth",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "board": None,
        "cameras": cameras,
        "quality": {"source": source},
    }


def spec_for(name: str, profile: Any, depth_scale: float | None, device: str) -> StreamSpec:
    vp = profile.as_video_stream_profile()
    dtype, channels = FORMATS[fmt_name(profile)]
    shape = (vp.height(), vp.width()) if channels == 1 else (vp.height(), vp.width(), channels)
    kind, units = _KIND_UNITS[name]
    intr, _ = intrinsics_of(profile)
    return StreamSpec(
        name=name,
        kind=kind,
        shape=shape,
        dtype=dtype,
        units=units,
        fps=float(profile.fps()),
        depth_scale=depth_scale if name == "depth" else None,
        intrinsics=intr,
        device=device,
    )


def depth_scale_of(sensor: Any) -> float | None:
    rs = _rs()
    try:
        return float(sensor.as_depth_sensor().get_depth_scale())
    except RuntimeError:
        pass
    if sensor.supports(rs.option.depth_units):
        return float(sensor.get_option(rs.option.depth_units))
    return None


def device_label(dev: Any) -> str:
    rs = _rs()

    def info(key: Any) -> str:
        return dev.get_info(key) if dev.supports(key) else ""

    name, serial = info(rs.camera_info.name), info(rs.camera_info.serial_number)
    fw = info(rs.camera_info.firmware_version)
    return f"{name} S/N {serial}" + (f" fw {fw}" if fw else "")
