"""Source specs (``synthetic:cycling``, ``replay:PATH.h5``, ...) to drivers.

A small registry maps a spec's scheme to a factory; built-in factories import their
backend lazily so that ``thermorig --help`` never loads pyrealsense2 or OpenCV.
Third-party drivers register under the entry-point group ``thermorig.drivers``: the
entry point's name is the scheme, its object a factory ``(argument, **options) ->
Driver``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from drivers.base import Driver
from drivers.errors import SourceError

Factory = Callable[..., Driver]

#: scheme -> "module:callable" (imported on first use) or a factory.
_REGISTRY: dict[str, str | Factory] = {
    "synthetic": "drivers.synthetic:open_synthetic",
    "replay": "drivers.replay:ReplayDriver",
    "realsense": "drivers.realsense:open_realsense",
    "rsbag": "drivers.rsbag:open_rsbag",
    "uvc": "drivers.uvc:open_uvc",
    "opencv": "drivers.opencv_cam:open_opencv",
    "flir-jpeg": "drivers.flir_jpeg:open_flir_jpeg",
    "gige": "drivers.gige:open_gige",
}

#: Help text per scheme, shown by ``thermorig record --help`` and in errors.
SCHEME_HELP: dict[str, str] = {
    "synthetic": "synthetic:cycling | synthetic:treadmill | synthetic:calibration",
    "replay": "replay:PATH.h5 (a thermorig session)",
    "realsense": "realsense[:SERIAL] (a connected RealSense camera)",
    "rsbag": "rsbag:PATH.db3 | rsbag:PATH.bag (a RealSense recording)",
    "uvc": "uvc:INDEX | uvc:/dev/videoN (a Y16 thermal camera: Lepton, Boson)",
    "opencv": "opencv:INDEX (a plain RGB camera)",
    "flir-jpeg": "flir-jpeg:DIR (a folder of FLIR radiometric JPEGs, or one file)",
    "gige": "gige:ADDRESS[?OPTIONS] (a GigE Vision thermal camera: FLIR A-series, ...)",
}

#: scheme -> "module:callable" doing ahead of ``open_source`` the slow part of opening
#: that the process keeps (the synthetic rig's lens tables and static renders), with the
#: factory's arguments: see head_start.
_HEAD_STARTS: dict[str, str] = {"synthetic": "drivers.synthetic.driver:prepare_synthetic"}

ENTRY_POINT_GROUP = "thermorig.drivers"


def register_source(scheme: str, factory: str | Factory, help_text: str = "") -> None:
    """Make ``scheme:ARG`` specs open with ``factory``; later registrations win."""
    _REGISTRY[scheme] = factory
    if help_text:
        SCHEME_HELP[scheme] = help_text


def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def known_schemes() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``scheme:argument``; the argument may itself contain colons (paths)."""
    if not spec or not isinstance(spec, str):
        raise SourceError("empty source spec; try synthetic:cycling or replay:PATH.h5")
    scheme, _, arg = spec.partition(":")
    return scheme.strip().lower(), arg.strip()


def _resolve(target: str | Factory) -> Factory:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def open_source(spec: str, **options: Any) -> Driver:
    """A driver for ``spec``, opened; raises SourceError with a hint on failure."""
    scheme, arg = parse_spec(spec)
    if scheme not in _REGISTRY:
        _load_entry_points()
    if scheme not in _REGISTRY:
        known = ", ".join(SCHEME_HELP.get(s, s + ":...") for s in sorted(_REGISTRY))
        raise SourceError(f"unknown source '{spec}'; known sources: {known}")
    driver = _resolve(_REGISTRY[scheme])(arg, **options)
    driver.open()
    return driver


def head_start(
    spec: str, then: Callable[[], None] | None = None, **options: Any
) -> threading.Thread | None:
    """Begin, on a daemon thread, what opening ``spec`` will spend most of its time on,
    where its scheme keeps that work for the process; the thread (or None) is returned.
    ``then()`` is called on that thread when the work is over, however it ended.

    The window calls this before it loads Qt, so the demo's world is built while the
    window is (on two cores: moving ~1 s sooner). Opening does not depend on it: a
    failure here is left for ``open_source`` to report, with its own message.
    """
    try:
        scheme, arg = parse_spec(spec)
    except SourceError:
        return None
    target = _HEAD_STARTS.get(scheme)
    if target is None:
        return None
    # Imported here, on the caller's thread: the thread only computes. An import on
    # another thread while Qt's binding layer starts can end the process (it walks
    # sys.modules; see app/ui/qt_core.py).
    try:
        work = _resolve(target)
    except Exception:  # noqa: BLE001 - open_source says what is wrong, in one line
        return None

    def run() -> None:
        try:
            work(arg, **options)
        except Exception:  # noqa: BLE001 - open_source says what is wrong, in one line
            pass
        finally:
            if then is not None:
                then()

    thread = threading.Thread(target=run, name=f"head-start {scheme}", daemon=True)
    thread.start()
    return thread
