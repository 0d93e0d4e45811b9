"""The GigE driver's parts that need no camera: what its pixels mean (IRFormat, a linear
calibration, honest counts), its spec's options and addresses, Aravis missing, and that
``thermorig devices`` broadcasts a GigE discovery only when asked with ``--network``."""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pytest

from drivers import gige_aravis
from drivers.discovery import DeviceInfo
from drivers.errors import SourceError
from drivers.gige import open_gige, parse_gige_arg
from drivers.gige_units import conversion_for


def test_temperature_linear_10mk_is_centikelvin_as_sent():
    raw = np.array([[29315, 31015]], dtype=np.uint16)
    conv = conversion_for("TemperatureLinear10mK", "Mono16")
    assert conv.units == "centikelvin"
    assert np.array_equal(conv.convert(raw), raw)


def test_temperature_linear_100mk_is_ten_times_and_clipped_at_the_top():
    raw = np.array([[2931, 3101, 6600]], dtype=np.uint16)
    out = conversion_for("TemperatureLinear100mK", "Mono16").convert(raw)
    assert out.dtype == np.uint16
    assert out.tolist() == [[29310, 31010, 65535]]


def test_radiometric_counts_stay_counts_without_a_calibration():
    conv = conversion_for("Radiometric", "Mono16")
    assert conv.units == "counts"
    assert "not temperatures" in conv.note


def test_a_camera_without_irformat_sends_counts():
    assert conversion_for(None, "Mono16").units == "counts"
    assert conversion_for(None, "Mono8").units == "counts"


def test_a_linear_calibration_turns_counts_into_centikelvin_and_wins_over_irformat():
    raw = np.array([[0, 100, 400]], dtype=np.uint16)
    conv = conversion_for("Radiometric", "Mono16", kelvin_per_count=0.25, kelvin_offset=233.15)
    assert conv.units == "centikelvin"
    # 0 counts = 233.15 K; 100 counts = 258.15 K; 400 counts = 333.15 K
    assert conv.convert(raw).tolist() == [[23315, 25815, 33315]]
    mono8 = conversion_for(None, "Mono8", kelvin_per_count=0.1, kelvin_offset=293.15)
    assert mono8.convert(np.array([[0, 255]], dtype=np.uint8)).tolist() == [[29315, 31865]]


def test_half_a_calibration_or_an_unknown_irformat_is_refused():
    with pytest.raises(SourceError, match="both kelvin_per_count and kelvin_offset"):
        conversion_for(None, "Mono16", kelvin_per_count=0.1)
    with pytest.raises(SourceError, match="must be positive"):
        conversion_for(None, "Mono16", kelvin_per_count=0.0, kelvin_offset=0.0)
    with pytest.raises(SourceError, match="IRFormat is 'Celsius'"):
        conversion_for("Celsius", "Mono16")


def test_the_spec_splits_address_and_options_in_order():
    address, options = parse_gige_arg("192.168.1.20?IRFormat=TemperatureLinear10mK&fps=30")
    assert address == "192.168.1.20"
    assert list(options.items()) == [("IRFormat", "TemperatureLinear10mK"), ("fps", "30")]


def test_thermorigs_options_and_genicam_features_are_told_apart():
    cam = open_gige(
        "10.0.0.5?ExposureTime=100&pixel_format=Mono8&kelvin_per_count=0.04&kelvin_offset=0"
    )
    assert cam.pixel_format == "Mono8"
    assert cam.features == {"ExposureTime": "100"}
    assert cam.address == "10.0.0.5"


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("", "needs the camera's IP address"),
        ("camera.local", "not an IPv4 address"),
        ("::1", "IPv4"),
        ("10.0.0.5?fps", "options go after"),
        ("10.0.0.5?fps=fast", "fps must be a number"),
        ("10.0.0.5?fps=0", "fps must be a positive frame rate"),
        ("10.0.0.5?pixel_format=RGB8", "Mono16 or Mono8"),
    ],
)
def test_a_bad_spec_is_one_line_before_any_network_traffic(arg, message, monkeypatch):
    monkeypatch.setattr(gige_aravis, "load_aravis", lambda: pytest.fail("Aravis was loaded"))
    with pytest.raises(SourceError, match=message) as info:
        open_gige(arg)
    assert "\n" not in str(info.value)


def test_aravis_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gi", None)  # import gi now raises ImportError
    with pytest.raises(SourceError, match=r"bash scripts/install gige") as info:
        gige_aravis.load_aravis()
    assert "\n" not in str(info.value)


def test_devices_broadcasts_for_gige_cameras_only_with_network(monkeypatch, capsys):
    from app.commands import devices

    calls = []

    def fake_list_gige():
        calls.append(1)
        return [DeviceInfo(kind="gige", name="FLIR A700", spec="gige:192.168.1.20")]

    monkeypatch.setattr("drivers.discovery.list_gige", fake_list_gige)
    monkeypatch.setattr("drivers.discovery.list_realsense", lambda: [])
    monkeypatch.setattr("drivers.discovery.list_v4l2", lambda: [])
    devices.run(argparse.Namespace(json=False, network=False))
    assert calls == []
    assert "gige:" not in capsys.readouterr().out
    devices.run(argparse.Namespace(json=False, network=True))
    assert calls == [1]
    assert "gige:192.168.1.20" in capsys.readouterr().out
