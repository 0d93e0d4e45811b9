"""The source registry: built-in schemes and third-party drivers via entry points."""

from __future__ import annotations

import subprocess
import sys

import pytest

from drivers import sources
from drivers.base import BaseDriver
from drivers.errors import SourceError
from drivers.types import StreamSpec


class PluginDriver(BaseDriver):
    def __init__(self, arg: str, **options):
        super().__init__(f"vendorcam:{arg}")
        self.arg, self.options = arg, options

    def open(self) -> None:
        self._streams = {
            "thermal": StreamSpec("thermal", "thermal", (2, 2), "uint16", "centikelvin", 30.0)
        }


class FakeEntryPoint:
    def __init__(self, name: str, target):
        self.name, self._target = name, target
        self.loaded = 0

    def load(self):
        self.loaded += 1
        return self._target


def test_third_party_driver_via_entry_point(monkeypatch):
    monkeypatch.setattr(sources, "_REGISTRY", dict(sources._REGISTRY))
    ep = FakeEntryPoint("vendorcam", PluginDriver)
    groups = []

    def fake_entry_points(group):
        groups.append(group)
        return [ep] if group == "thermorig.drivers" else []

    monkeypatch.setattr(sources, "entry_points", fake_entry_points)
    assert "vendorcam" in sources.known_schemes()
    d = sources.open_source("vendorcam:cam-7", gain=3)
    assert isinstance(d, PluginDriver) and d.arg == "cam-7" and d.options == {"gain": 3}
    assert set(d.streams) == {"thermal"}
    assert groups[0] == sources.ENTRY_POINT_GROUP and ep.loaded == 1


def test_built_in_schemes_are_registered_lazily():
    for scheme in ("realsense", "rsbag", "uvc", "opencv", "flir-jpeg"):
        assert scheme in sources._REGISTRY and scheme in sources.SCHEME_HELP
        module = sources._REGISTRY[scheme].partition(":")[0]
        assert module.startswith("drivers.")
    with pytest.raises(SourceError, match="unknown source 'nope:x'.*rsbag:PATH.db3"):
        sources.open_source("nope:x")


def test_importing_sources_loads_no_camera_library():
    """``thermorig --help`` must stay fast: backends are imported on first use only."""
    code = (
        "import drivers.sources, sys; "
        "print(*(m in sys.modules for m in ('pyrealsense2', 'cv2', 'flyr')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_head_start_builds_the_world_the_source_then_opens_without_building():
    from drivers.synthetic import world

    options = {"thermal_size": (64, 48), "depth_size": (64, 48), "color_size": (96, 54), "seed": 7}
    thread = sources.head_start("synthetic:treadmill", **options)
    assert thread is not None
    thread.join(60)
    assert any(key[:2] == ("treadmill", 7) for key in world._WORLDS)
    built = len(world._WORLDS)
    driver = sources.open_source("synthetic:treadmill", **options)
    try:
        assert len(world._WORLDS) == built  # the open found the world made ahead
    finally:
        driver.close()


def test_head_start_leaves_bad_specs_and_other_schemes_to_open_source():

    assert sources.head_start("") is None and sources.head_start("replay:/no/such.h5") is None
    thread = sources.head_start("synthetic:nosuchscene")
    assert thread is not None
    thread.join(10)  # nothing built, nothing raised: opening says what is wrong
    with pytest.raises(SourceError, match="unknown synthetic scene"):
        sources.open_source("synthetic:nosuchscene")
