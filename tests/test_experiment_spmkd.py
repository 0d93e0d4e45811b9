"""``thermorig experiment spmkd``: the result's shape, a split by subject, SSIM, CRWT's
weight transfer, that training lowers the reconstruction loss, the linear probe, the
exported package's parity, and the refusal of an existing report.

A study of three 0.4 s subjects and ``--quick`` keep this to seconds; the figures of
such a run mean nothing and are not asserted (the full run's are in
docs/experiments/spmkd.md).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from tests.real_data import import_or_unavailable

torch = import_or_unavailable("torch", "the train extra: bash scripts/install test,train")

from app.cli import main  # noqa: E402
from app.study.generate import generate_study, plan  # noqa: E402
from drivers.study import read_study  # noqa: E402
from models.package import load_package  # noqa: E402
from models.training.dataset import Examples, load_session  # noqa: E402
from models.training.experiments.common import check_result  # noqa: E402
from models.training.experiments.spmkd import INPUT_SIZE, WINDOW_C  # noqa: E402
from models.training.spmkd_net import (  # noqa: E402
    SPMKD,
    KeypointProbe,
    SPMKDConfig,
    transfer_matching,
)
from models.training.spmkd_train import (  # noqa: E402
    WARM_ABOVE_C,
    StageConfig,
    apply_probe,
    fit_probe,
    frames,
    learned_points,
    mean_reconstruction_loss,
    ssim,
    train_stage,
    warm_foreground,
)
from tests.broken_inputs import assert_one_line_error, run_cli  # noqa: E402

SMALL = {"color_size": (320, 180), "depth_size": (320, 240)}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    generate_study(folder, plan(folder, 3, 0.4, "cycling", seed=3, options=SMALL), workers=1)
    return folder


@pytest.fixture(scope="module")
def quick(study, tmp_path_factory):
    """One ``--quick --json`` run: (result, --out, stdout's JSON)."""
    out = tmp_path_factory.mktemp("out") / "report"
    buf = io.StringIO()  # a module fixture cannot use capsys
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        code = main(["experiment", "spmkd", "--study", str(study), "--out", str(out),
                     "--quick", "--test-subjects", "1", "--json"])  # fmt: skip
    assert code == 0
    return json.loads((out / "spmkd.json").read_text()), out, json.loads(buf.getvalue())


def test_result_has_the_shared_shape_and_a_split_by_subject(quick, study):
    result, out, printed = quick
    assert printed == result
    check_result(result)
    ids = [s.id for s in read_study(study).subjects]
    assert result["train_subjects"] == ids[:2] and result["test_subjects"] == ids[2:]
    for name in ("crwt", "no_crwt", "random_init"):
        v = result["variants"][name]
        assert np.isfinite(v["median_px"]) and v["median_px"] >= 0
        assert v["p95_px"] >= v["median_px"]
    net = result["network"]
    assert net["parameters"] > net["parameters_encoder"] > 0
    assert net["macs_256"] > net["macs_input"] > net["macs_encoder_input"] > 0
    assert (out / "spmkd.md").read_text().startswith("# spmkd")


def test_exported_package_loads_names_the_joints_and_matches_torch(quick):
    result, out, _ = quick
    pkg = load_package(out / "spmkd-crwt.onnx")
    assert pkg.manifest.keypoints == ("left_knee", "right_knee", "left_ankle", "right_ankle")
    assert pkg.manifest.output.kind == "coordinates"
    assert result["package"]["parity"]["max_abs_diff"] <= 1e-4
    assert result["package"]["frames"] > 0 and np.isfinite(result["package"]["median_px"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial left


def test_an_existing_report_is_refused_in_one_line_and_kept(quick, study, capsys):
    _, out, _ = quick
    before = (out / "spmkd.json").read_bytes()
    code, _, err = run_cli(capsys, "experiment", "spmkd", "--study", study, "--out", out,
                           "--quick", "--test-subjects", "1")  # fmt: skip
    assert_one_line_error(code, err, "spmkd.json exists")
    assert (out / "spmkd.json").read_bytes() == before


def test_ssim_is_one_for_identical_images_and_lower_for_others():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 1, 32, 40, generator=g)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-5)
    assert float(ssim(a, torch.rand(2, 1, 32, 40, generator=g))) < 0.2
    assert float(ssim(a, a * 0.5)) < float(ssim(a, a * 0.9)) < 1.0


def test_crwt_copies_every_matching_tensor_and_only_those():
    torch.manual_seed(0)
    cls = SPMKD(SPMKDConfig(out_channels=2))
    torch.manual_seed(1)
    reg = SPMKD(SPMKDConfig())
    head_before = reg.decoder.head.weight.detach().clone()
    copied, left = transfer_matching(cls, reg)
    assert set(left) == {"decoder.head.weight", "decoder.head.bias"}
    src, dst = cls.state_dict(), reg.state_dict()
    assert len(copied) == len(dst) - 2
    for k in copied:
        assert torch.equal(src[k], dst[k]), k
    assert torch.equal(reg.decoder.head.weight, head_before)
    # a copy, not shared storage: training one must not move the other
    assert src["encoder.heat.weight"].data_ptr() != dst["encoder.heat.weight"].data_ptr()


@pytest.fixture(scope="module")
def examples(study) -> Examples:
    return load_session(study / read_study(study).subjects[0].sessions[0].path, INPUT_SIZE)


def test_training_lowers_the_reconstruction_loss(examples):
    torch.manual_seed(0)
    model = SPMKD(SPMKDConfig())
    img = frames(examples, WINDOW_C)
    before = mean_reconstruction_loss(model, img)
    train_stage(model, examples, StageConfig(steps=25, window_c=WINDOW_C), "reconstruct", 0,
                lambda _: None)  # fmt: skip
    after = mean_reconstruction_loss(model, img)
    assert after < 0.7 * before, (before, after)


def test_warm_foreground_needs_no_label_and_follows_the_rule(examples):
    fg = warm_foreground(examples)
    assert fg.classes == ["room", "warm"]
    t = examples.images[0].astype(np.float32)
    assert np.array_equal(fg.labels[0] == 1, (t >= np.median(t) + WARM_ABOVE_C) & (t <= 40.0))
    assert 0.01 < fg.labels.mean() < 0.6  # legs and body, not the room


def test_probe_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 160, (60, 8, 2))
    true_w = rng.normal(0, 0.3, (17, 8))
    joints = apply_probe(pts, true_w)
    w, ridge = fit_probe(pts, joints, ridges=(0.0, 1e-2, 1.0))
    assert ridge == 0.0  # exact data: leave-one-out prefers no shrinkage
    assert np.allclose(apply_probe(pts, w), joints, atol=1e-6)
    joints[0, 1, 0] = np.nan  # a frame with an unknown joint is left out, not fatal
    assert np.isfinite(fit_probe(pts, joints)[0]).all()


def test_probe_shrinks_points_that_carry_nothing_to_the_mean_pose():
    rng = np.random.default_rng(1)
    joints = rng.uniform(0, 160, (60, 4, 2))
    noise = rng.normal(80, 1e-4, (60, 8, 2))  # an untrained network's near-still points
    w, ridge = fit_probe(noise, joints)
    assert ridge >= 1.0
    pred = apply_probe(rng.normal(80, 1e-4, (20, 8, 2)), w)
    assert np.abs(pred - joints.mean(0)).mean() < 0.1 * joints.std()


def test_the_probe_folded_into_the_network_gives_the_probes_joints(examples):
    torch.manual_seed(0)
    model = SPMKD(SPMKDConfig()).eval()
    img = frames(examples, WINDOW_C)[:4]
    pts = learned_points(model, img)
    w = np.random.default_rng(0).normal(0, 50, (2 * pts.shape[1] + 1, 8))
    folded = KeypointProbe(model.encoder, torch.from_numpy(w), torch.from_numpy(pts.mean(0)))
    with torch.no_grad():
        got = folded(img).numpy()
    assert got.shape == (4, 4, 2)
    assert np.allclose(got, apply_probe(pts, w), atol=1e-3)
