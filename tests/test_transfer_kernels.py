"""The label transfer's compiled kernels evaluate the lens model as the exact float64
model does (to a thousandth of a pixel), round as ``cv2.remap`` does, and are safe to
call from several threads at once (numba's default thread pool is not)."""

from __future__ import annotations

import threading

import cv2
import numba
import numpy as np
import pytest

from app.bench.projection import _depth_frames, _labels
from app.bench.projection import _rig as bench_rig
from calibration.camera_math import DistortionTable, monotonic_r2, project_normalized
from calibration.depth_kernels import (
    fill_from_neighbours,
    flat_holes,
    holes_to_fill,
    spread_footprints,
)
from calibration.lens_kernels import (
    distorted,
    lens_model,
    nearest_flat,
    splat_bands,
    splat_in_order,
    table_coords,
)
from calibration.projection import Projector
from calibration.rig import RigError
from calibration.transfer_kernels import (
    EDGE,
    FILLED,
    VALID,
    count_sure,
    depth_codes,
    look_up_labels,
)


@numba.njit
def _distorted_all(model, gxs, gys):
    u = np.empty(gxs.shape, np.float32)
    v = np.empty(gxs.shape, np.float32)
    for i in range(gxs.shape[0]):
        u[i], v[i] = distorted(model, gxs[i], gys[i])
    return u, v


@numba.njit
def _nearest_all(shape, xs, ys):
    at = np.empty(xs.shape, np.int64)
    inside = np.empty(xs.shape, np.bool_)
    for i in range(xs.shape[0]):
        at[i], inside[i] = nearest_flat(shape, xs[i], ys[i])
    return at, inside


@pytest.mark.parametrize(
    "dist",
    [
        (-0.42, 0.21, 0.0011, -0.0007, -0.05, 0.02, 0.01, -0.004, 0.001, -0.0005, 0.0008, 0.0),
        (-0.42, 0.21, 0.0011, -0.0007, -0.05),
    ],
    ids=["opencv-12", "brown-5"],
)
def test_the_lens_model_is_evaluated_as_the_exact_float64_model_within_a_thousandth_px(dist):
    """Strong barrel with (and without) rational and thin-prism terms, out past the
    table and the radius where the radial factor stops growing (held there, as
    camera_math.distort holds it). Five coefficients compile without the others."""
    K = np.array([[610.0, 0.4, 322.5], [0, 605.0, 255.0], [0, 0, 1]])
    table = DistortionTable(640, 512, K, dist)
    assert len(lens_model(table)[1]) == len(dist)
    rng = np.random.default_rng(5)
    rows, cols = table.u.shape
    # Over the table and as far again beyond it on every side.
    gx = ((rng.random(20000) * 3 - 1) * (cols - 1)).astype(np.float32)
    gy = ((rng.random(20000) * 3 - 1) * (rows - 1)).astype(np.float32)
    u, v = _distorted_all(lens_model(table), gx, gy)
    x = table.x0 + gx.astype(np.float64) * table.step
    y = table.y0 + gy.astype(np.float64) * table.step
    ref_u, ref_v = project_normalized(K, np.asarray(dist), x, y)
    assert (x * x + y * y > monotonic_r2(tuple(table.dist))).any()  # the held part is in
    assert np.abs(u - ref_u).max() < 1e-3 and np.abs(v - ref_v).max() < 1e-3
    # Shifted and held for a z-buffer; a NaN coordinate is held too (it becomes an index).
    held = lens_model(table, 2.5, (0.0, 600.0, 0.0, 500.0))
    hu, hv = _distorted_all(held, np.append(gx, np.float32(np.nan)), np.append(gy, 0.0))
    assert np.allclose(hu[:-1], np.clip(u + np.float32(2.5), 0, 600), atol=1e-4)
    assert np.allclose(hv[:-1], np.clip(v + np.float32(2.5), 0, 500), atol=1e-4)
    assert 0 <= hu[-1] <= 600 and 0 <= hv[-1] <= 500


def test_nearest_rounds_half_to_even_and_knows_the_border_like_cv2_remap():
    image = np.arange(1, 10 * 7 + 1, dtype=np.float32).reshape(7, 10)
    halves = np.array([-0.5, -0.50001, 0.5, 1.5, 2.5, 8.5, 9.4999, 9.5, 3.2], np.float32)
    xs = np.concatenate([halves, np.full(9, 4.0, np.float32)])
    ys = np.concatenate([np.full(9, 3.0, np.float32), halves - 3.0 + 3.0])
    at, inside = _nearest_all(image.shape, xs, ys)
    ref = cv2.remap(image, xs[None], ys[None], cv2.INTER_NEAREST, None, cv2.BORDER_CONSTANT, 0)[0]
    assert np.array_equal(inside, ref != 0)
    assert np.array_equal(np.where(inside, image.ravel()[at], 0), ref)


def test_two_threads_transferring_at_once_get_what_each_gets_alone():
    rig = bench_rig((448, 360), (448, 384), 1.2)
    frames = _depth_frames(rig["depth"], 2)
    labels = _labels(rig["color"])
    projectors = [Projector(rig, 0.001), Projector(rig, 0.001)]
    alone = [projectors[0].transfer_labels(d, labels, 3) for d in frames]
    results: dict[int, list] = {0: [], 1: []}

    def work(k: int) -> None:
        for _ in range(15):
            results[k].append(projectors[k].transfer_labels(frames[k], labels, 3))

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in (0, 1):
        assert len(results[k]) == 15
        for r in results[k]:
            assert np.array_equal(r.labels, alone[k].labels)
            assert np.array_equal(r.reason, alone[k].reason)


def test_a_depth_image_of_another_size_is_refused_before_the_unchecked_kernels_run():
    rig = bench_rig((448, 360), (448, 384), 1.2)
    projector = Projector(rig, 0.001)
    with pytest.raises(RigError, match="depth frames are 224x180 but the rig's depth camera"):
        projector.dst_render.render_inf(np.zeros((180, 224), np.uint16))


@numba.njit
def _coords_of(d, az, gx_c):
    one = np.float32(1.0)
    return table_coords(d, az, one, gx_c, one, one, one, np.float32(9), np.float32(7), one)


def test_a_nan_or_far_coordinate_stays_inside_the_lens_table():
    nan, f32 = np.float32(np.nan), np.float32
    for az, gx_c, expect_x in (
        (f32(1), nan, 0.0),
        (f32(1), f32(1e9), 9.0),
        (f32(1), f32(-1e9), 0.0),
    ):
        _, gx, gy = _coords_of(f32(2.0), az, gx_c)
        assert gx == expect_x and 0 <= gy <= 7
    _, gx, gy = _coords_of(f32(2.0), nan, f32(1))  # a NaN depth in X: both held
    assert 0 <= gx <= 9 and 0 <= gy <= 7


@pytest.mark.parametrize("radius", [1, 2])
def test_depth_codes_are_the_edge_test_of_a_dilate_and_an_erode_and_keep_filled(radius):
    rng = np.random.default_rng(radius)
    z_inf = (1.0 + 0.01 * rng.random((37, 53))).astype(np.float32)  # a wall, ToF noise
    z_inf[10:20, 30:45] = 2.5  # a farther patch: edges around it
    z_inf[rng.random(z_inf.shape) < 0.05] = np.inf  # drop-outs
    z_inf[0, :] = np.inf  # a hole row and column at the image's edge
    z_inf[:, -1] = np.inf
    filled = (rng.random(z_inf.shape) < 0.1).astype(np.uint8)
    codes = np.empty(z_inf.shape, np.uint8)
    depth = np.empty(z_inf.shape, np.float32)
    depth_codes((z_inf, 0), radius, 0.05, filled, (codes, depth))
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    z = np.where(np.isinf(z_inf), np.float32(0), z_inf)
    edge = (cv2.dilate(z, kernel) - cv2.erode(z_inf, kernel)) > np.float32(0.05)
    expect = np.maximum(np.where(edge, EDGE, VALID), filled * FILLED).astype(np.uint8)
    assert np.array_equal(codes, expect)
    assert np.array_equal(depth, z)
    assert (codes == EDGE).any() and (codes == VALID).any() and (codes == FILLED).any()


def test_the_unchecked_target_kernels_refuse_images_of_different_sizes():
    labels = np.zeros((20, 30), np.uint8)
    with pytest.raises(ValueError, match="must be one 2-D size"):
        count_sure(labels, np.zeros((20, 29), np.uint8), 3)
    codes, depth = np.empty((20, 30), np.uint8), np.empty((20, 30), np.float32)
    with pytest.raises(ValueError, match="need a depth and a mask that size"):
        depth_codes(
            (np.zeros((20, 30), np.float32), 0),
            1,
            0.05,
            np.zeros((20, 29), np.uint8),
            (codes, depth),
        )
    u = np.zeros((20, 30), np.float32)
    with pytest.raises(ValueError, match="needs one target size"):
        look_up_labels(labels, u, u, np.zeros((20, 30), np.uint8), np.empty((20, 29), np.uint8))
    with pytest.raises(ValueError, match="need a depth and a mask that size"):
        depth_codes(
            (np.zeros((22, 32), np.float32), 2),
            1,
            0.05,
            np.zeros((20, 30), np.uint8),
            (codes, depth),
        )


def test_holes_filled_from_neighbours_are_the_replicated_3x3_minimum_read_before_writing():
    rng = np.random.default_rng(1)
    z = rng.random((40, 50)).astype(np.float32)
    z[rng.random(z.shape) < 0.2] = np.inf
    z[0, 0] = z[39, 49] = np.inf  # corners: the image's edge replicated
    # A view inside a larger image (as the renderer's buffer): its padding is not read.
    view = np.pad(z, 2, constant_values=np.float32(-1.0))[2:-2, 2:-2]
    fill = np.isinf(z) & (rng.random(z.shape) < 0.6)
    fill[0, 0] = fill[39, 49] = True
    expect = z.copy()
    near = cv2.erode(z, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    expect[fill] = near[fill]
    fill_from_neighbours(view, np.flatnonzero(fill))
    assert np.array_equal(view, expect) and fill.sum() > 50
    with pytest.raises(ValueError, match="outside the image"):
        fill_from_neighbours(view, np.array([z.size]))


@pytest.mark.parametrize("shape", [(30, 41), (1, 41), (30, 1), (2, 2), (1, 2)])
def test_holes_to_fill_are_the_box_filter_count_of_neighbours_with_depth(shape):
    """OpenCV's reflection at the image's edge, on images down to a pixel wide."""
    rng = np.random.default_rng(4)
    pad = 3
    found = 0
    for _ in range(10):
        z = rng.random(shape).astype(np.float32)
        z[rng.random(z.shape) < 0.35] = np.inf  # holes everywhere, the image's edge too
        grid = np.pad(z, pad, constant_values=np.float32(1.0))  # depth there: not to be read
        for k in (1, 3, 5, 8):
            fill = np.empty(z.shape, np.uint8)
            rows = holes_to_fill((grid, pad), k, fill)
            hole = np.isinf(z)
            have = cv2.boxFilter((~hole).view(np.uint8), cv2.CV_16U, (3, 3), normalize=False)
            expect = hole & (have >= k)
            assert np.array_equal(fill.view(bool), expect)
            assert np.array_equal(rows, expect.sum(axis=1))
            assert np.array_equal(flat_holes(fill, rows), np.flatnonzero(expect))
            found += int(rows.sum())
    assert found > 0
    z = np.ones((30, 41), np.float32)
    grid = np.pad(z, pad)
    with pytest.raises(ValueError, match="needs a buffer that size"):
        holes_to_fill((grid[:-1], pad), 5, np.empty(z.shape, np.uint8))


def test_labels_looked_up_are_cv2_remaps_nearest_then_settled():
    """The fused lookup against what it replaced: ``cv2.remap`` (INTER_NEAREST, border
    255) and the settling rule in numpy; halves, the border, far, infinite and NaN
    coordinates included."""
    rng = np.random.default_rng(5)
    labels = rng.choice(np.array([0, 1, 2, 255], np.uint8), (40, 60))
    shape = (70, 90)
    u = rng.uniform(-3, 63, shape).astype(np.float32)
    v = rng.uniform(-3, 43, shape).astype(np.float32)
    u[::5] = np.round(u[::5]) + 0.5  # exactly between two pixels
    v[::7] = np.round(v[::7]) - 0.5
    u[0, :4] = (np.nan, np.inf, -np.inf, 1e9)
    v[1, :3] = (np.nan, 59.5, -0.5)
    reason = rng.integers(0, 6, shape).astype(np.uint8)
    want = cv2.remap(labels, u, v, cv2.INTER_NEAREST, None, cv2.BORDER_CONSTANT, 255)
    want_reason = reason.copy()
    want_reason[(want == 255) & (reason <= FILLED)] = 6  # unlabeled
    want[want_reason > FILLED] = 255
    got = np.empty(shape, np.uint8)
    look_up_labels(labels, u, v, reason, got)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(reason, want_reason)
    # Flat indices are formed in float32: images too large for that are refused.
    huge = np.zeros((4096, 4096), np.uint8)
    with pytest.raises(ValueError, match="looked up by cv2"):
        look_up_labels(huge, u, v, reason, got)


@pytest.mark.parametrize("cuts", ["even", "crossed"])
def test_the_parallel_splat_keeps_per_pixel_the_highest_rank_as_writing_in_order(cuts):
    """Points landing anywhere (many outside their chunk's band when the bands are cut
    the other way round) give what writing them one by one in rank order gives."""
    rng = np.random.default_rng(11)
    n, rows, width = 20000, 40, 50
    at = rng.integers(-1, rows * width, n).astype(np.int32)
    at_z = rng.random(n).astype(np.float32)
    rank = rng.permutation(n).astype(np.int32) + 1
    starts, bounds = splat_bands(n, rows, width)
    if cuts == "crossed":  # chunk k's points mostly land in the last bands
        starts = np.array([0, n // 10, n // 3, n], np.int64)
        bounds = np.array([0, 7, 29, rows], np.int64) * width
    expected = np.full(rows * width, np.inf, np.float32)
    for i in np.argsort(rank):
        if at[i] >= 0:
            expected[at[i]] = at_z[i]
    buf = np.zeros(rows * width, np.float32)  # any stale content: the splat resets it
    ranks = np.full(rows * width, 7, np.int32)
    splat_in_order((at, at_z, rank), ranks, buf, (starts, bounds), np.empty(n, np.int32))
    np.testing.assert_array_equal(buf, expected)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_footprints_spread_as_cv2_erode_anchored_bottom_right_inside_the_padding(n):
    rng = np.random.default_rng(n)
    h, w, pad = 23, 37, n + 1
    raw = rng.random((h + 2 * pad, w + 2 * pad)).astype(np.float32)
    raw[rng.random(raw.shape) < 0.6] = np.inf  # mostly holes, as a sparse splat leaves
    grid = np.full(raw.shape, -1.0, np.float32)
    spread_footprints(raw, n, pad, (h, w), grid)
    expect = cv2.erode(
        raw,
        np.ones((n, n), np.uint8),
        anchor=(n - 1, n - 1),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=np.inf,
    )
    inside = (slice(pad, pad + h), slice(pad, pad + w))
    np.testing.assert_array_equal(grid[inside], expect[inside])
    grid[inside] = -1.0
    assert (grid == -1.0).all()  # the padding is not written
    with pytest.raises(ValueError, match="needs buffers padded"):
        spread_footprints(raw, pad + 2, pad, (h, w), grid)
