"""Device discovery and ``thermorig devices``, without cameras attached.

V4L2 is exercised against a fake sysfs tree and a fake ``ioctl`` that answers the
kernel's structures; RealSense against an ``rs.software_device``.
"""

from __future__ import annotations

import errno
import json
import os
import struct
from pathlib import Path

import pytest

from app.cli import main
from drivers import discovery
from drivers.discovery import (
    _CAP,
    _FMTDESC,
    _FRMIVAL,
    _FRMSIZE,
    NOTHING_FOUND,
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    VIDIOC_QUERYCAP,
    DeviceInfo,
    format_devices,
    list_realsense,
    list_v4l2,
)
from tests.real_data import import_or_unavailable


def fourcc(s: str) -> int:
    return struct.unpack("<I", s.encode())[0]


def test_ioctl_numbers_match_linux_videodev2():
    # Values of the kernel's macros on x86-64/arm64 (they encode the struct sizes).
    assert VIDIOC_QUERYCAP == 0x80685600
    assert VIDIOC_ENUM_FMT == 0xC0405602
    assert VIDIOC_ENUM_FRAMESIZES == 0xC02C564A
    assert VIDIOC_ENUM_FRAMEINTERVALS == 0xC034564B


NODES = {
    # node: (card, device_caps, {fourcc: {(w, h): [fps]}})
    "video0": (
        "PureThermal (fw:v1.3.0)",
        0x04200001,
        {"Y16 ": {(160, 120): [9], (160, 122): [9]}, "UYVY": {(160, 120): [9]}},
    ),
    "video1": ("PureThermal (fw:v1.3.0)", 0x04A00000, {}),  # the metadata node
    "video2": (
        "HD Webcam",
        0x04200001,
        {"MJPG": {(1280, 720): [30, 15]}, "YUYV": {(640, 480): [30]}},
    ),
    "video4": ("Intel(R) RealSense(TM) Depth Ca", 0x04200001, {"Z16 ": {(848, 480): [30]}}),
}
USB = {
    "video0": ("1e4e", "0100"),
    "video1": ("1e4e", "0100"),
    "video2": ("046d", "0825"),
    "video4": ("8086", "0b07"),
}


def fake_ioctl(fd: int, request: int, buf: bytearray) -> int:
    node = os.readlink(f"/proc/self/fd/{fd}").rsplit("/", 1)[-1]
    card, caps, formats = NODES[node]
    fmts = list(formats.items())
    if request == VIDIOC_QUERYCAP:
        buf[:] = _CAP.pack(b"uvcvideo", card.encode(), b"usb-1", 0x60000, 0x84A00001, caps)
    elif request == VIDIOC_ENUM_FMT:
        index, kind = struct.unpack_from("II", buf)
        if index >= len(fmts):
            raise OSError(errno.EINVAL, "end")
        buf[:] = _FMTDESC.pack(index, kind, 0, fmts[index][0].encode(), fourcc(fmts[index][0]), 0)
    elif request == VIDIOC_ENUM_FRAMESIZES:
        index, pixfmt = struct.unpack_from("II", buf)
        sizes = list(dict(fmts)[struct.pack("<I", pixfmt).decode()])
        if index >= len(sizes):
            raise OSError(errno.EINVAL, "end")
        buf[:] = _FRMSIZE.pack(index, pixfmt, 1, *sizes[index], 0, 0, 0, 0)
    elif request == VIDIOC_ENUM_FRAMEINTERVALS:
        index, pixfmt, w, h = struct.unpack_from("IIII", buf)
        rates = dict(fmts)[struct.pack("<I", pixfmt).decode()][(w, h)]
        if index >= len(rates):
            raise OSError(errno.EINVAL, "end")
        buf[:] = _FRMIVAL.pack(index, pixfmt, w, h, 1, 1, rates[index], 0, 0, 0, 0)
    else:
        raise OSError(errno.ENOTTY, "unknown request")
    return 0


@pytest.fixture
def fake_v4l2(tmp_path):
    sys_root, dev_root = tmp_path / "sys", tmp_path / "dev"
    dev_root.mkdir()
    for node, (card, _, _) in NODES.items():
        usb = tmp_path / "usb" / node
        (usb / "1-1:1.0").mkdir(parents=True)
        vid, pid = USB[node]
        (usb / "idVendor").write_text(vid + "\n")
        (usb / "idProduct").write_text(pid + "\n")
        (sys_root / node).mkdir(parents=True)
        (sys_root / node / "name").write_text(card + "\n")
        (sys_root / node / "device").symlink_to(usb / "1-1:1.0")
        (dev_root / node).write_bytes(b"")
    return sys_root, dev_root


def test_v4l2_nodes_are_classified_and_their_modes_listed(fake_v4l2):
    sys_root, dev_root = fake_v4l2
    found = list_v4l2(sys_root, dev_root, ioctl=fake_ioctl)
    assert [d.spec for d in found] == ["uvc:0", "opencv:2"]  # metadata node and RealSense left out
    thermal, webcam = found
    assert (
        thermal.kind == "thermal" and thermal.usb == "1e4e:0100" and "PureThermal" in thermal.note
    )
    assert thermal.streams["thermal"] == ["160x120@9 Y16", "160x122@9 Y16", "160x120@9 UYVY"]
    assert webcam.kind == "camera" and webcam.streams["color"][:2] == [
        "1280x720@30/15 MJPG",
        "640x480@30 YUYV",
    ]
    text = format_devices(found)
    assert "uvc:0" in text and "opencv:2" in text and "160x122@9 Y16" in text


def test_unanswering_nodes_are_listed_without_modes(fake_v4l2):
    sys_root, dev_root = fake_v4l2

    def dead(fd, request, buf):
        raise OSError(errno.ENOTTY, "not a video device")

    found = list_v4l2(sys_root, dev_root, ioctl=dead, skip_intel=False)
    assert [d.spec for d in found] == ["uvc:0", "uvc:1", "opencv:2", "opencv:4"]
    assert "modes unknown" in format_devices(found)
    assert list_v4l2(sys_root / "absent", dev_root) == []


def test_realsense_modes_per_stream():
    rs = import_or_unavailable("pyrealsense2", "it is a dependency of thermorig")
    sd = rs.software_device()
    sd.register_info(rs.camera_info.name, "Software D435")
    sd.register_info(rs.camera_info.serial_number, "77")
    sensor = sd.add_sensor("Stereo Module")
    for uid, (kind, idx, fmt, bpp, w, h, fps) in enumerate(
        [
            (rs.stream.depth, 0, rs.format.z16, 2, 848, 480, 30),
            (rs.stream.depth, 0, rs.format.z16, 2, 848, 480, 90),
            (rs.stream.depth, 0, rs.format.z16, 2, 640, 480, 30),
            (rs.stream.infrared, 1, rs.format.y8, 1, 848, 480, 30),
        ]
    ):
        intr = rs.intrinsics()
        intr.width, intr.height = w, h
        vs = rs.video_stream()
        vs.type, vs.index, vs.uid, vs.width, vs.height, vs.fps, vs.bpp, vs.fmt = (
            kind,
            idx,
            uid,
            w,
            h,
            fps,
            bpp,
            fmt,
        )
        vs.intrinsics = intr
        sensor.add_video_stream(vs)
    (dev,) = list_realsense(devices=lambda: [sd])
    assert dev.spec == "realsense:77" and dev.kind == "realsense"
    assert dev.streams == {
        "depth": ["848x480 Z16@30/90", "640x480 Z16@30"],
        "ir": ["848x480 Y8@30"],
    }


def test_devices_command_with_nothing_connected(monkeypatch, capsys):
    monkeypatch.setattr(discovery, "discover", lambda: [])
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == NOTHING_FOUND and "synthetic:cycling" in out and "replay:PATH.h5" in out
    assert main(["devices", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"devices": [], "hint": NOTHING_FOUND}


def test_devices_command_lists_devices(monkeypatch, capsys):
    found = [
        DeviceInfo(
            "thermal",
            "PureThermal",
            "uvc:0",
            path="/dev/video0",
            streams={"thermal": ["160x122@9 Y16"]},
        )
    ]
    monkeypatch.setattr(discovery, "discover", lambda: found)
    assert main(["devices", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["devices"][0]["spec"] == "uvc:0"


def test_discover_runs_on_this_machine(capsys):
    """The real code paths on this machine's /sys and librealsense: nothing raises,
    every RealSense librealsense sees is listed once, every V4L2 entry names one of
    this machine's nodes with the matching index, and ``thermorig devices --json``
    lists exactly what discover() found. (On a machine without cameras the lists are
    empty and only the first and last checks bite.)"""
    found = discovery.discover()
    rs = import_or_unavailable("pyrealsense2", "it is a dependency of thermorig")
    realsense = [d for d in found if d.kind == "realsense"]
    assert len(realsense) == len(rs.context().query_devices())
    sysfs = Path("/sys/class/video4linux")
    nodes = {p.name for p in sysfs.glob("video*")} if sysfs.is_dir() else set()
    for d in found:
        if d.kind != "realsense":
            node = Path(d.path).name
            assert node in nodes and d.spec.split(":")[1] == node[len("video") :], d
    assert len({d.spec for d in found}) == len(found), "two devices with one spec"
    assert main(["devices", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["devices"]
    assert [d["spec"] for d in listed] == [d.spec for d in found]
