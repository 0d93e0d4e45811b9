"""Colour-mapped thermal stills read back to intensity (drivers.colormaps)."""

import cv2
import numpy as np
import pytest

from drivers.colormaps import STOPS, apply_colormap, colormap_lut, invert_colormap

RAMP = np.tile(np.arange(256, dtype=np.uint8), (8, 1))


@pytest.mark.parametrize("name", list(STOPS))
def test_every_map_round_trips_within_one_level_and_is_recognised(name):
    fit = invert_colormap(apply_colormap(RAMP, name))
    assert fit.name == name
    assert np.abs(fit.as_uint8().astype(int) - RAMP).max() <= 1
    assert fit.residual < 1.0


def test_aliases_name_the_same_map():
    assert np.array_equal(colormap_lut("iron"), colormap_lut("ironbow"))
    assert invert_colormap(apply_colormap(RAMP, "iron"), "iron").name == "ironbow"


def test_rainbow_is_read_along_the_map_not_as_grey():
    # Luminance is not monotonic along rainbow: grey would swap warm and cool levels.
    rgb = apply_colormap(RAMP, "rainbow")
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[0].astype(int)
    assert (np.diff(grey) < 0).any()
    assert (np.diff(invert_colormap(rgb).as_uint8()[0].astype(int)) >= 0).all()


def test_a_jpeg_of_a_colour_mapped_image_is_still_recognised():
    img = apply_colormap(cv2.resize(RAMP, (320, 240)), "inferno")
    ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    fit = invert_colormap(cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1])
    assert fit.name == "inferno"
    assert np.abs(fit.as_uint8().astype(int) - cv2.resize(RAMP, (320, 240))).mean() < 2


def test_a_colour_photograph_is_refused():
    rng = np.random.default_rng(0)
    photo = cv2.resize(
        rng.integers(0, 256, (6, 8, 3)).astype(np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC
    )
    with pytest.raises(ValueError, match="matches no colour map") as err:
        invert_colormap(photo)
    assert "\n" not in str(err.value)
