"""The rig as an OpenCV FileStorage YAML file, for tools that read OpenCV calibrations.

Layout (every matrix an ``!!opencv-matrix`` of doubles, written with 17 significant
digits so that a round trip is exact)::

    format: thermorig-rig
    version: 1
    reference: depth
    created: "..."
    board: "coded:11x9:40"          # "" when unknown
    cameras:
       depth:
          width: 640
          height: 480
          K: 3x3
          dist: 1xN (OpenCV order)
          T_ref_cam: 4x4            # this camera → reference, metres (the rig JSON's)
          R: 3x3                    # reference → this camera, OpenCV's stereo
          T: 3x1                    #   convention (p_cam = R p_ref + T), for
                                    #   stereoRectify and friends; not read back
    quality_json: "{...}"           # the rig's quality figures as JSON text

Loading reads ``T_ref_cam`` (or, when a hand-written file has only ``R``/``T``,
inverts those). :func:`load_rig` reads a rig file of either form; every ``--rig`` and
the window's Load rig dialog use it, so a rig ``calibrate --yaml`` wrote works wherever
its JSON twin does. It lives here, not in :mod:`calibration.rig`, because the YAML
reader needs OpenCV.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from calibration.rig import Camera, Rig, RigError, read_rig_text
from calibration.rig_checks import image_size
from drivers.atomic import atomic_write

FORMAT = "thermorig-rig"
VERSION = 1


def rig_to_yaml(rig: Rig) -> str:
    """The rig as OpenCV FileStorage YAML text."""
    fs = cv2.FileStorage(".yaml", cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY)
    d = rig.to_dict()
    fs.write("format", FORMAT)
    fs.write("version", VERSION)
    fs.write("reference", rig.reference)
    fs.write("created", d["created"])
    fs.write("board", rig.board or "")
    fs.startWriteStruct("cameras", cv2.FileNode_MAP)
    for name, cam in rig.cameras.items():
        fs.startWriteStruct(name, cv2.FileNode_MAP)
        fs.write("width", int(cam.width))
        fs.write("height", int(cam.height))
        fs.write("K", cam.K)
        fs.write("dist", cam.dist.reshape(1, -1))
        fs.write("T_ref_cam", cam.T_ref_cam)
        T = cam.T_cam_ref
        fs.write("R", T[:3, :3])
        fs.write("T", T[:3, 3].reshape(3, 1))
        fs.endWriteStruct()
    fs.endWriteStruct()
    fs.write("quality_json", json.dumps(rig.quality or {}))
    return fs.releaseAndGetString()


def _mat(node: cv2.FileNode, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if node.empty():
        raise RigError(f"rig YAML lacks {what}; write it with thermorig or add it")
    m = node.mat()
    m = np.zeros((1, 0)) if m is None else np.asarray(m, dtype=np.float64)
    if shape is not None and m.size != int(np.prod(shape)):
        raise RigError(f"rig YAML {what} has {m.size} values, expected {int(np.prod(shape))}")
    return m.reshape(shape) if shape is not None else m.ravel()


def rig_from_yaml(text: str) -> Rig:
    """A rig from OpenCV FileStorage YAML text (as :func:`rig_to_yaml` writes it)."""
    if not text.lstrip().startswith("%YAML"):
        raise RigError("not an OpenCV YAML file (no %YAML header); give a rig written as YAML")
    try:
        fs = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
    except (cv2.error, SystemError) as exc:  # OpenCV's parser errors surface as either
        inner = exc.__cause__ or exc.__context__ or exc
        why = " ".join(str(getattr(inner, "err", inner)).split())[:120]
        raise RigError(f"rig YAML does not parse ({why})") from None
    try:
        return _read_rig(fs)
    except cv2.error as exc:  # a node of the wrong type (a matrix without its dtype, ...)
        why = " ".join(str(getattr(exc, "err", exc)).split())[:120]
        raise RigError(f"rig YAML is malformed ({why})") from None
    finally:
        fs.release()


def _read_rig(fs: cv2.FileStorage) -> Rig:
    """The rig in an open FileStorage (see :func:`rig_from_yaml`)."""
    cams_node = fs.getNode("cameras")
    if cams_node.empty() or not cams_node.isMap():
        raise RigError("not a rig YAML: expected a 'cameras' map of camera entries")
    fmt = fs.getNode("format")
    if not fmt.empty() and fmt.string() != FORMAT:
        raise RigError(f"YAML of format '{fmt.string()}', expected '{FORMAT}'")
    cameras = {}
    for name in cams_node.keys():
        node = cams_node.getNode(name)
        where = f"cameras/{name}"
        for key in ("width", "height"):
            if node.getNode(key).empty():
                raise RigError(f"rig YAML lacks {where}/{key}")
        K = _mat(node.getNode("K"), f"{where}/K", (3, 3))
        dist = _mat(node.getNode("dist"), f"{where}/dist")
        if node.getNode("T_ref_cam").empty() and not node.getNode("R").empty():
            # p_cam = R p_ref + T inverted as a rigid motion (R is checked below).
            R = _mat(node.getNode("R"), f"{where}/R", (3, 3))
            pose = np.eye(4)
            pose[:3, :3] = R.T
            pose[:3, 3] = -R.T @ _mat(node.getNode("T"), f"{where}/T", (3,))
        else:
            pose = _mat(node.getNode("T_ref_cam"), f"{where}/T_ref_cam", (4, 4))
        try:
            size = [image_size(node.getNode(k).real(), k) for k in ("width", "height")]
        except ValueError as exc:
            raise RigError(f"rig YAML {where}: {exc}") from None
        cameras[name] = Camera(width=size[0], height=size[1], K=K, dist=dist, T_ref_cam=pose)

    def text_of(key: str) -> str:
        n = fs.getNode(key)
        return "" if n.empty() else n.string()

    quality_text = text_of("quality_json")
    try:
        quality = json.loads(quality_text) if quality_text else {}
    except json.JSONDecodeError as exc:
        raise RigError(f"rig YAML quality_json is not JSON ({exc.msg})") from None
    except RecursionError:
        raise RigError("rig YAML quality_json is nested too deeply") from None
    if not isinstance(quality, dict):
        raise RigError("rig YAML quality_json must hold a JSON object")
    return Rig(
        cameras=cameras,
        reference=text_of("reference") or "depth",
        created=text_of("created"),
        board=text_of("board") or None,
        quality=quality,
    ).check()


def save_rig_yaml(rig: Rig, path: str | os.PathLike) -> None:
    """Write the rig as OpenCV YAML atomically (a crash leaves the old file)."""
    text = rig_to_yaml(rig)
    with atomic_write(path) as fh:
        fh.write(text)


def load_rig_yaml(path: str | os.PathLike) -> Rig:
    """Read a rig from an OpenCV YAML file written by :func:`save_rig_yaml`."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file not found: {path}")
    try:
        return rig_from_yaml(read_rig_text(path))
    except RigError as exc:
        raise RigError(f"{path}: {exc}") from None


def load_rig(path: str | os.PathLike) -> Rig:
    """A rig file, JSON or OpenCV YAML: YAML when it starts with ``%YAML`` or is named
    ``.yaml``/``.yml``, JSON otherwise (the content decides first, so a YAML rig saved
    as ``.txt`` still reads). RigError naming the file when it cannot be read or its
    content is not a usable rig."""
    path = Path(path)
    if not path.is_file():
        raise RigError(f"rig file not found: {path}")
    try:
        text = read_rig_text(path)
        is_yaml = text.lstrip().startswith("%YAML") or path.suffix.lower() in (".yaml", ".yml")
        return rig_from_yaml(text) if is_yaml else Rig.from_json(text)
    except RigError as exc:
        raise RigError(f"{path}: {exc}") from None
