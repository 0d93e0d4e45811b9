"""``thermorig experiment latent``: the CUTS-style encoder keeps the input's
resolution and learns without labels, its contrastive loss prefers nearby similar
patches, the decoder sees only the frames it was given, the result has the shared
shape and is cross-subject, and an existing report is refused in one line.

A 3-subject study of 0.3 s sessions and ``--quick`` keep this to seconds; the figures
of such a run mean nothing and are not asserted beyond range.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.real_data import import_or_unavailable

torch = import_or_unavailable("torch", "the train extra: bash scripts/install test,train")

from app.study.generate import generate_study, plan  # noqa: E402
from drivers.session import SessionReader  # noqa: E402
from drivers.study import Study, StudySession, StudySubject, write_study  # noqa: E402
from models.package import load_package  # noqa: E402
from models.training.experiments.common import (  # noqa: E402
    ExperimentRequest,
    check_result,
    study_split,
)
from models.training.experiments.latent import pick_labeled, to_input  # noqa: E402
from models.training.latent_net import (  # noqa: E402
    EncoderConfig,
    LatentEncoder,
    PatchHead,
    encoder_losses,
    info_nce,
    sample_pairs,
    train_encoder,
)
from tests.broken_inputs import assert_one_line_error, run_cli  # noqa: E402

SMALL = {"color_size": (320, 180), "depth_size": (320, 240)}


def test_encoder_keeps_the_resolution_and_has_the_reference_layers():
    enc = LatentEncoder(3)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128]
    assert all(c.kernel_size == (5, 5) and c.stride == (1, 1) for c in convs)
    x = torch.rand(2, 3, 37, 53)
    assert enc(x).shape == (2, 128, 37, 53)
    assert enc.valid(x).shape == (2, 128, 37 - 16, 53 - 16)


def test_contrastive_loss_prefers_matched_pairs():
    g = torch.Generator().manual_seed(0)
    anchor = torch.randn(64, 128, generator=g)
    matched = anchor + 0.1 * torch.randn(64, 128, generator=g)
    mismatched = matched[torch.roll(torch.arange(64), 1)]
    # At temperature 0.5 a perfect match still costs log(1 + 63·e^-2) ≈ 2.26 nats
    # against 63 unrelated negatives; a mismatch costs about log(64) ≈ 4.2 or more.
    good, bad = info_nce(anchor, matched, 0.5), info_nce(anchor, mismatched, 0.5)
    assert good < 2.4 and bad > 4.0


def test_encoder_losses_stay_on_the_crops_device():
    # --device cuda runs failed here twice: the draws are made on the CPU, the
    # similarity on the GPU, then a patch offset was made on the CPU. "meta" stands in
    # for a GPU on a machine without one: it refuses a CPU tensor in its arithmetic.
    x = torch.rand(2, 1, 40, 40).to("meta")
    pairs = sample_pairs(x, EncoderConfig(steps=1), 8, torch.Generator().manual_seed(0))
    assert [t.device.type for t in pairs] == ["meta"] * 5
    enc = LatentEncoder(1).to("meta")
    head = PatchHead(enc.latent_dim, 1, EncoderConfig(steps=1).patch).to("meta")
    losses = encoder_losses(enc, head, x, EncoderConfig(steps=1), torch.Generator())
    assert [t.device.type for t in losses] == ["meta"] * 3
    cpu = sample_pairs(torch.rand(2, 1, 40, 40), EncoderConfig(steps=1), 8, torch.Generator())
    assert all(t.shape == (2 * EncoderConfig(steps=1).anchors,) for t in cpu)


def test_an_incomplete_study_is_said_before_its_split_is_used(tmp_path):
    # A study whose generation stopped early once moved the held-out people silently.
    people = [
        StudySubject(f"s{k}", k, {}, [StudySession(f"s{k}/c.h5", "cycling", k, 3.0, {})])
        for k in range(3)
    ] + [StudySubject("s3", 3, {}, [])]
    write_study(tmp_path, Study(people, complete=False))
    said: list[str] = []
    split = study_split(ExperimentRequest(tmp_path, tmp_path / "out"), said.append)
    assert split.test_ids == ["s1", "s2"]
    assert len(said) == 1 and "s3 have none and are left out" in said[0]


def test_encoder_training_lowers_the_loss():
    # Blobs of a few temperatures on a cool background: patches a latent can learn.
    rng = np.random.default_rng(0)
    images = np.full((6, 1, 48, 48), 0.2, np.float32)
    for im in images:
        for _ in range(4):
            y, x, r = rng.integers(8, 40), rng.integers(8, 40), rng.integers(4, 9)
            yy, xx = np.ogrid[:48, :48]
            im[0][(yy - y) ** 2 + (xx - x) ** 2 < r * r] = rng.uniform(0.5, 0.9)
    cfg = EncoderConfig(steps=60, crops=4, crop=32, anchors=16, lr=2e-3)
    _, stats = train_encoder(torch.from_numpy(images), cfg, log=lambda _: None)
    assert stats["loss_last_20_steps"] < 0.7 * stats["loss_first_20_steps"]


def test_labeled_frames_are_spread_over_sessions_and_evenly_in_time():
    sources = [(f"s{k}", i) for k in range(3) for i in range(11)]
    picked = pick_labeled(sources, 7)
    assert len(picked) == len(set(picked)) == 7
    per = [sum(sources[i][0] == f"s{k}" for i in picked) for k in range(3)]
    assert sorted(per) == [2, 2, 3]
    assert [sources[i][1] for i in picked if sources[i][0] == "s0"] == [0, 5, 10]
    assert len(pick_labeled(sources[:4], 9)) == 4  # never more than there are


def test_heatmap_input_is_the_inferno_map_of_the_window():
    c = np.array([[[18.0, 38.0, 28.0]]], np.float16)
    gray, heat = to_input(c, "grayscale"), to_input(c, "heatmap")
    assert gray.shape == (1, 1, 1, 3) and heat.shape == (1, 3, 1, 3)
    assert torch.allclose(gray[0, 0, 0], torch.tensor([0.0, 1.0, 0.5]))
    assert heat[0, :, 0, 0].sum() < 0.1 and heat[0, :, 0, 1].sum() > 2.0  # black .. pale yellow


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    generate_study(folder, plan(folder, 3, 0.3, "cycling", seed=0, options=SMALL), workers=1)
    return folder


def test_quick_run_is_cross_subject_and_uses_only_the_labeled_frames(study, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = run_cli(
        capsys, "experiment", "latent", "--study", study, "--out", out, "--quick",
        "--test-subjects", "1", "--labeled-frames", "3", "--json",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    result = check_result(json.loads(stdout))
    assert result == json.loads((out / "latent.json").read_text())
    assert (out / "latent.md").read_text().startswith("# latent")
    assert result["test_subjects"] == ["subject-002"]
    assert set(result["train_subjects"]) == {"subject-000", "subject-001"}
    assert result["labeled_frames"] == 3 and len(result["labeled_sources"]) == 3
    assert all(s.split("/")[0] in result["train_subjects"] for s, _ in result["labeled_sources"])
    for v in ("grayscale", "heatmap"):
        f = result["variants"][v]
        assert 0.0 <= f["mean_iou"] <= 1.0 and 0.0 <= f["baseline"]["mean_iou"] <= 1.0
        # The decoder saw the labeled frames and their mirror images, nothing else.
        assert f["decoder"]["examples"] == 6 == f["baseline_decoder"]["examples"]
        assert f["encoder"]["unlabeled_frames"] == result["unlabeled_frames"] > 3
    pkg = result["package"]
    assert pkg["parity_max_abs_diff"] <= 1e-4
    loaded = load_package(out / pkg["onnx"])
    assert loaded.manifest.input.representation == result["best_variant"]
    prov = loaded.manifest.provenance
    assert prov["cross_subject"]["test_subjects"] == ["subject-002"]
    with SessionReader(study / "subject-002" / "cycling.h5") as s:
        assert s.attrs["subject"] == "subject-002"

    # Run again into the same folder: refused before training, nothing replaced.
    before = (out / "latent.json").read_bytes()
    code, _, err = run_cli(
        capsys, "experiment", "latent", "--study", study, "--out", out, "--quick",
        "--test-subjects", "1",
    )  # fmt: skip
    assert_one_line_error(code, err, "latent.json exists")
    assert (out / "latent.json").read_bytes() == before


def test_too_many_labeled_frames_is_one_line(study, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "experiment", "latent", "--study", study, "--out", tmp_path / "o",
        "--quick", "--labeled-frames", "53",
    )  # fmt: skip
    assert_one_line_error(code, err, "--labeled-frames 53")
    assert not (tmp_path / "o" / "latent.json").exists()
