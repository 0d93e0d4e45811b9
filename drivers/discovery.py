"""What cameras are connected, and which source spec opens each.

Answers in well under a second: RealSense devices come from ``rs.context()`` (it only
reads descriptors), V4L2 devices from ``/sys/class/video4linux`` plus a handful of
``ioctl`` queries on each node (capabilities, formats, sizes, rates) — nothing starts
streaming and OpenCV is never loaded. Intel's own V4L2 nodes are left to the RealSense
entry; metadata-only nodes (every UVC camera has one) are skipped. A node offering
``Y16`` is a thermal camera (``uvc:N``), anything else a plain camera (``opencv:N``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.errors import SourceError
from drivers.realsense_streams import stream_name_for

# -- V4L2 ioctls (linux/videodev2.h) ---------------------------------------------------


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("V") << 8) | nr


_IOR, _IOWR = 2, 3
_CAP = struct.Struct("16s32s32sIII12x")  # v4l2_capability, 104 bytes
_FMTDESC = struct.Struct("III32sII12x")  # v4l2_fmtdesc, 64 bytes
_FRMSIZE = struct.Struct("III6I8x")  # v4l2_frmsizeenum, 44 bytes
_FRMIVAL = struct.Struct("IIIII6I8x")  # v4l2_frmivalenum, 52 bytes
VIDIOC_QUERYCAP = _ioc(_IOR, 0, _CAP.size)
VIDIOC_ENUM_FMT = _ioc(_IOWR, 2, _FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = _ioc(_IOWR, 74, _FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = _ioc(_IOWR, 75, _FRMIVAL.size)
_CAP_VIDEO_CAPTURE, _CAP_DEVICE_CAPS = 0x1, 0x80000000
_BUF_TYPE_VIDEO_CAPTURE = 1
_DISCRETE = 1

#: USB vendor:product of known thermal cameras.
KNOWN_USB = {
    "1e4e:0100": "PureThermal (FLIR Lepton)",
    "09cb:4007": "FLIR Boson",
}
INTEL_VENDOR = "8086"

Ioctl = Callable[[int, int, bytearray], Any]


def _fourcc(code: int) -> str:
    return struct.pack("<I", code).decode("latin-1")


def _query(fd: int, request: int, buf: bytearray, ioctl: Ioctl) -> bool:
    try:
        ioctl(fd, request, buf)
        return True
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOTTY, errno.ENODEV, errno.EIO):
            return False
        raise


def v4l2_modes(fd: int, ioctl: Ioctl = fcntl.ioctl, limit: int = 64) -> list[dict[str, Any]]:
    """Formats × discrete frame sizes × frame rates of an open V4L2 capture node."""
    modes: list[dict[str, Any]] = []
    for i in range(limit):
        buf = bytearray(_FMTDESC.pack(i, _BUF_TYPE_VIDEO_CAPTURE, 0, b"", 0, 0))
        if not _query(fd, VIDIOC_ENUM_FMT, buf, ioctl):
            break
        _, _, _, desc, pixfmt, _ = _FMTDESC.unpack(buf)
        for j in range(limit):
            sb = bytearray(_FRMSIZE.pack(j, pixfmt, 0, 0, 0, 0, 0, 0, 0))
            if not _query(fd, VIDIOC_ENUM_FRAMESIZES, sb, ioctl):
                break
            _, _, kind, w, h, *_ = _FRMSIZE.unpack(sb)
            if kind != _DISCRETE:
                break  # stepwise sizes: any size in a range, nothing useful to list
            rates = []
            for k in range(limit):
                ib = bytearray(_FRMIVAL.pack(k, pixfmt, w, h, 0, 0, 0, 0, 0, 0, 0))
                if not _query(fd, VIDIOC_ENUM_FRAMEINTERVALS, ib, ioctl):
                    break
                _, _, _, _, ikind, num, den, *_ = _FRMIVAL.unpack(ib)
                if ikind != _DISCRETE or num == 0:
                    break
                rates.append(round(den / num, 2))
            modes.append(
                {
                    "format": _fourcc(pixfmt),
                    "description": desc.split(b"\0", 1)[0].decode("latin-1"),
                    "width": w,
                    "height": h,
                    "fps": rates,
                }
            )
    return modes


def v4l2_capture_caps(fd: int, ioctl: Ioctl = fcntl.ioctl) -> tuple[str, bool] | None:
    """(card name, is a video capture node), or None if the node does not answer."""
    buf = bytearray(_CAP.size)
    if not _query(fd, VIDIOC_QUERYCAP, buf, ioctl):
        return None
    _, card, _, _, caps, device_caps = _CAP.unpack(buf)
    effective = device_caps if caps & _CAP_DEVICE_CAPS else caps
    return card.split(b"\0", 1)[0].decode("latin-1"), bool(effective & _CAP_VIDEO_CAPTURE)


# -- devices ---------------------------------------------------------------------------


@dataclass
class DeviceInfo:
    """One connected camera and the source spec that opens it."""

    kind: str  # "realsense" | "thermal" | "camera" | "gige"
    name: str
    spec: str
    serial: str = ""
    path: str = ""
    usb: str = ""
    streams: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _modes_text(modes: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in modes:
        rates = "/".join(f"{r:g}" for r in m["fps"]) or "?"
        out.setdefault(m["format"].strip(), []).append(f"{m['width']}x{m['height']}@{rates}")
    return out


def list_realsense(devices: Callable[[], list[Any]] | None = None) -> list[DeviceInfo]:
    """Connected RealSense cameras with their modes per thermorig stream."""
    try:
        import pyrealsense2 as rs
    except ImportError:
        return []
    from drivers.realsense_streams import fmt_name, is_depth_sensor

    found = devices() if devices else list(rs.context().query_devices())
    out = []
    for dev in found:

        def info(key: Any, d: Any = dev) -> str:
            return d.get_info(key) if d.supports(key) else ""

        serial = info(rs.camera_info.serial_number)
        streams: dict[str, set[tuple[int, int, str, int]]] = {}
        for sensor in dev.query_sensors():
            on_depth = is_depth_sensor(sensor)
            for p in sensor.get_stream_profiles():
                name = stream_name_for(p, on_depth)
                if name is None:
                    continue
                vp = p.as_video_stream_profile()
                streams.setdefault(name, set()).add(
                    (vp.width(), vp.height(), fmt_name(p).upper(), p.fps())
                )
        text: dict[str, list[str]] = {}
        for name, modes in streams.items():
            by_size: dict[tuple[int, int, str], list[int]] = {}
            for w, h, fmt, fps in modes:
                by_size.setdefault((w, h, fmt), []).append(fps)
            text[name] = [
                f"{w}x{h} {fmt}@{'/'.join(str(f) for f in sorted(fps))}"
                for (w, h, fmt), fps in sorted(
                    by_size.items(), key=lambda kv: (-kv[0][0], kv[0][2])
                )
            ]
        out.append(
            DeviceInfo(
                kind="realsense",
                name=info(rs.camera_info.name) or "RealSense",
                spec=f"realsense:{serial}" if serial else "realsense",
                serial=serial,
                path=info(rs.camera_info.physical_port),
                streams=text,
                note=f"firmware {info(rs.camera_info.firmware_version)}".strip(),
            )
        )
    return out


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _usb_id(sys_node: Path) -> str:
    """vendor:product of the USB device a video node belongs to ('' if not USB)."""
    try:
        here = (sys_node / "device").resolve()
    except OSError:
        return ""
    for d in (here, *here.parents):
        vid, pid = _read(d / "idVendor"), _read(d / "idProduct")
        if vid:
            return f"{vid}:{pid}".lower()
        if d == d.parent or str(d) == "/sys":
            break
    return ""


def list_v4l2(
    sys_root: str | os.PathLike = "/sys/class/video4linux",
    dev_root: str | os.PathLike = "/dev",
    ioctl: Ioctl = fcntl.ioctl,
    skip_intel: bool = True,
) -> list[DeviceInfo]:
    """V4L2 capture nodes (not RealSense), as thermal (Y16) or plain cameras."""
    root = Path(sys_root)
    if not root.is_dir():
        return []
    nodes = sorted(
        (p for p in root.iterdir() if re.fullmatch(r"video\d+", p.name)),
        key=lambda p: int(p.name[5:]),
    )
    out = []
    for node in nodes:
        usb = _usb_id(node)
        if skip_intel and usb.startswith(INTEL_VENDOR + ":"):
            continue
        name = _read(node / "name") or node.name
        dev = Path(dev_root) / node.name
        modes: list[dict[str, Any]] = []
        note = KNOWN_USB.get(usb, "")
        try:
            fd = os.open(dev, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            note = f"cannot open {dev}: {exc.strerror}"
        else:
            try:
                caps = v4l2_capture_caps(fd, ioctl)
                if caps is not None and not caps[1]:
                    continue  # a metadata node
                modes = v4l2_modes(fd, ioctl)
            except OSError as exc:
                note = f"cannot query {dev}: {exc.strerror}"
            finally:
                os.close(fd)
        index = int(node.name[5:])
        thermal = any(m["format"] == "Y16 " for m in modes) or usb in KNOWN_USB
        out.append(
            DeviceInfo(
                kind="thermal" if thermal else "camera",
                name=name,
                spec=f"uvc:{index}" if thermal else f"opencv:{index}",
                path=str(dev),
                usb=usb,
                streams={("thermal" if thermal else "color"): _flatten(_modes_text(modes))},
                note=note,
            )
        )
    return out


def _flatten(by_format: dict[str, list[str]]) -> list[str]:
    return [f"{m} {fmt}" for fmt, ms in by_format.items() for m in ms]


def list_gige() -> list[DeviceInfo]:
    """GigE Vision cameras on every network interface, as ``DeviceInfo``.

    This BROADCASTS GVCP discovery; only ``thermorig devices --network`` calls it.
    """
    from drivers.gige_aravis import load_aravis

    try:
        aravis, _ = load_aravis()
    except SourceError as exc:
        return [DeviceInfo(kind="gige", name="GigE Vision", spec="gige:ADDRESS", note=str(exc))]
    aravis.update_device_list()
    out = []
    for i in range(aravis.get_n_devices()):
        if aravis.get_device_protocol(i) != "GigEVision":
            continue
        address = aravis.get_device_address(i) or ""
        vendor = aravis.get_device_vendor(i) or ""
        model = aravis.get_device_model(i) or ""
        out.append(
            DeviceInfo(
                kind="gige",
                name=f"{vendor} {model}".strip() or "GigE Vision camera",
                spec=f"gige:{address}",
                serial=aravis.get_device_serial_nbr(i) or "",
                path=aravis.get_device_physical_id(i) or "",
                note=aravis.get_device_id(i) or "",
            )
        )
    return out


def discover(network: bool = False) -> list[DeviceInfo]:
    """Every camera thermorig can open, RealSense first; with ``network`` also the GigE
    Vision cameras, found by a discovery broadcast on every network interface — which
    is why it only happens when a person asks for it (``thermorig devices --network``)."""
    found = list_realsense() + list_v4l2()
    if network:
        found += list_gige()
    return found


NOTHING_FOUND = (
    "No cameras found. To try thermorig without hardware use synthetic:cycling "
    "(a simulated rig), or replay:PATH.h5 to play back a recorded session."
)


def format_devices(devices: list[DeviceInfo]) -> str:
    if not devices:
        return NOTHING_FOUND
    lines = []
    for d in devices:
        ids = (d.serial and f"S/N {d.serial}", d.usb and f"USB {d.usb}", d.path, d.note)
        extra = ", ".join(x for x in ids if x)
        lines.append(f"{d.spec:<24} {d.kind:<9} {d.name}" + (f" ({extra})" if extra else ""))
        for stream, modes in d.streams.items():
            shown = ", ".join(modes[:6]) + (f", … {len(modes) - 6} more" if len(modes) > 6 else "")
            lines.append(f"    {stream:<8} {shown or 'modes unknown'}")
    return "\n".join(lines)
