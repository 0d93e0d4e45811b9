"""``thermorig experiment spmkd``: self-supervised keypoints (SPMKD), with and without
CRWT, against the same network untrained — scored on people never trained on.

1. Thermal frames of the training subjects, at 160×128 (a quarter of 640×512 per
   side), train the network of :mod:`models.training.spmkd_net` to rebuild its input
   from K learned keypoints (:mod:`models.training.spmkd_train`); no keypoint label.
2. Variants: ``crwt`` — first the same network classifies warm foreground pixels, then
   every tensor of matching name and shape is copied into the reconstruction network,
   which trains on; ``no_crwt`` — reconstruction from scratch for as many steps as
   both CRWT stages together (so CRWT is not credited with extra training);
   ``random_init`` — the untrained network.
3. Each variant's keypoints get a linear map to the true knees and ankles, fitted on a
   few labeled frames of the *training* subjects; the error is then measured on the
   *test* subjects' frames against their truth, in thermal frame pixels (640×512).
   A mean-pose baseline (the probe frames' mean joints for every frame) says how much
   any variant knows about the frame at all.
4. The ``crwt`` encoder with its linear map folded in is exported as a keypoint model
   package (``coordinates`` output: the four named joints), checked torch against
   onnxruntime and measured through the app's own runner.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from drivers.session import SessionReader
from models.runner import ModelRunner
from models.spec import InputSpec, Manifest, OutputSpec
from models.training.dataset import Examples, load_session
from models.training.experiments.common import (
    ExperimentError,
    ExperimentRequest,
    Log,
    study_split,
)
from models.training.experiments.spmkd_report import markdown
from models.training.nets import count_parameters
from models.training.package_writer import measured_record, package_paths, publish_package
from models.training.spmkd_net import (
    SPMKD,
    KeypointProbe,
    SPMKDConfig,
    count_macs,
    transfer_matching,
)
from models.training.spmkd_train import (
    SSIM_WEIGHT,
    WARM_ABOVE_C,
    WARM_MAX_C,
    StageConfig,
    apply_probe,
    fit_probe,
    frames,
    learned_points,
    mean_reconstruction_loss,
    train_stage,
    warm_foreground,
)

INPUT_SIZE = (160, 128)
WINDOW_C = (15.0, 40.0)
JOINTS = ("left_knee", "right_knee", "left_ankle", "right_ankle")
PACKAGE = "spmkd-crwt"
#: The paper's network (for the table): parameters and GFLOPs at 256×256.
PAPER = {"parameters": 70_000, "gflops_256": 0.613}


@dataclass(frozen=True)
class Plan:
    """How much of the study and how long: ``every`` n-th frame of each session."""

    every_train: int
    every_test: int
    steps_foreground: int
    steps_reconstruct: int
    probe_frames: int
    subjects: tuple[int, int] | None = None  # (train, test) kept, quick runs only
    package_frames: int = 24


QUICK = Plan(10, 10, 15, 30, 24, subjects=(3, 1), package_frames=6)
FULL = Plan(6, 3, 200, 600, 48)


def _load(paths: list[Path], every: int, log: Log, what: str) -> Examples:
    t0 = time.perf_counter()
    ex = Examples.concat([load_session(p, INPUT_SIZE, every=every) for p in paths])
    log(f"{what}: {len(ex)} frames of {len(paths)} sessions ({time.perf_counter() - t0:.0f} s)")
    return ex


def _joints(ex: Examples) -> np.ndarray:
    missing = [j for j in JOINTS if j not in ex.keypoint_names]
    if missing:
        raise ExperimentError(f"the sessions' truth names no {', '.join(missing)}")
    return ex.keypoints[:, [ex.keypoint_names.index(j) for j in JOINTS]].astype(np.float64)


def _stats(err: np.ndarray) -> dict:
    e = err[np.isfinite(err)]
    if not len(e):
        return {"median_px": None, "mean_px": None, "p95_px": None, "n": 0}
    return {
        "median_px": round(float(np.median(e)), 2),
        "mean_px": round(float(e.mean()), 2),
        "p95_px": round(float(np.percentile(e, 95)), 2),
        "n": int(len(e)),
    }


def score(pred: np.ndarray, truth: np.ndarray, scale: float) -> dict:
    """Errors in frame pixels (input pixels × ``scale``), overall and per joint."""
    err = np.linalg.norm(pred - truth, axis=-1) * scale
    out = _stats(err.ravel())
    out["per_joint_median_px"] = {j: _stats(err[:, i])["median_px"] for i, j in enumerate(JOINTS)}
    return out


def _probe_index(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def _variant(model, train_img, probe_idx, probe_truth, test_img, test_truth, scale) -> dict:
    probe_points = learned_points(model, train_img[probe_idx])
    w, ridge = fit_probe(probe_points, probe_truth)
    pred = apply_probe(learned_points(model, test_img), w)
    figures = score(pred, test_truth, scale)
    figures["probe_ridge"] = ridge
    figures["test_reconstruction_loss"] = round(mean_reconstruction_loss(model, test_img), 5)
    return {"figures": figures, "weight": w, "center": probe_points.mean(axis=0)}


def _frame_scale(path: Path) -> float:
    with SessionReader(path) as s:
        return s.frame("thermal", 0).array.shape[1] / INPUT_SIZE[0]


def run(req: ExperimentRequest, log: Log) -> tuple[dict, str]:
    t_start = time.perf_counter()
    plan = QUICK if req.quick else FULL
    split = study_split(req, log)
    if plan.subjects:
        split = replace(
            split, train=split.train[: plan.subjects[0]], test=split.test[: plan.subjects[1]]
        )
    package_paths(req.out, PACKAGE)  # refused before training, not after
    train_paths, test_paths = split.sessions("train"), split.sessions("test")
    if not train_paths or not test_paths:
        raise ExperimentError("the study has no sessions for the training or the test subjects")
    log(f"spmkd: {len(split.train)} training subjects, {len(split.test)} test subjects")
    train_ex = _load(train_paths, plan.every_train, log, "training")
    test_ex = _load(test_paths, plan.every_test, log, "test")
    scale = _frame_scale(test_paths[0])
    train_img, test_img = frames(train_ex, WINDOW_C), frames(test_ex, WINDOW_C)
    probe_idx = _probe_index(len(train_ex), plan.probe_frames)
    probe_truth, test_truth = _joints(train_ex)[probe_idx], _joints(test_ex)

    cfg = SPMKDConfig()
    stage = StageConfig(steps=plan.steps_reconstruct, window_c=WINDOW_C, device=req.device)
    fg_ex = warm_foreground(train_ex)
    torch.manual_seed(req.seed)
    untrained = SPMKD(cfg).eval()
    variants, training, models = {}, {}, {}
    models["random_init"] = untrained

    log("crwt stage 1: warm-foreground classification")
    torch.manual_seed(req.seed)
    classifier = SPMKD(replace(cfg, out_channels=2))
    s1 = train_stage(classifier, fg_ex, replace(stage, steps=plan.steps_foreground),
                     "foreground", req.seed, log)  # fmt: skip
    torch.manual_seed(req.seed)
    crwt = SPMKD(cfg)
    copied, left = transfer_matching(classifier, crwt)
    log(f"crwt transfer: {len(copied)} tensors copied, not copied: {', '.join(left)}")
    log("crwt stage 2: reconstruction")
    s2 = train_stage(crwt, train_ex, stage, "reconstruct", req.seed + 1, log)
    training["crwt"] = {"foreground": s1, "reconstruct": s2, "copied": len(copied), "left": left}
    models["crwt"] = crwt

    log("no_crwt: reconstruction from scratch (as many steps as both CRWT stages)")
    torch.manual_seed(req.seed)
    plain = SPMKD(cfg)
    steps = plan.steps_foreground + plan.steps_reconstruct
    s = train_stage(plain, train_ex, replace(stage, steps=steps), "reconstruct", req.seed + 1, log)
    training["no_crwt"] = {"reconstruct": s}
    models["no_crwt"] = plain

    weights = {}
    for name in ("crwt", "no_crwt", "random_init"):
        v = _variant(models[name], train_img, probe_idx, probe_truth, test_img, test_truth, scale)
        variants[name], weights[name] = v["figures"], (v["weight"], v["center"])
        log(f"{name}: median {v['figures']['median_px']} px")
    base = variants["random_init"]["median_px"]
    for v in variants.values():
        v["ratio_to_random_init"] = round(v["median_px"] / base, 3) if base else None
    mean_pose = np.nanmean(probe_truth, axis=0)
    baseline = score(np.broadcast_to(mean_pose, test_truth.shape), test_truth, scale)

    package = _export(req, crwt, weights["crwt"], test_img, test_paths, plan, split,
                      variants["crwt"], log)  # fmt: skip
    variants["crwt"]["package_median_px"] = package["median_px"]
    result = {
        "experiment": "spmkd",
        "train_subjects": split.train_ids,
        "test_subjects": split.test_ids,
        "variants": variants,
        "mean_pose_baseline": baseline,
        "network": {
            **cfg.to_dict(),
            "parameters": count_parameters(crwt),
            "parameters_encoder": count_parameters(crwt.encoder),
            "macs_input": count_macs(crwt, (1, 1, INPUT_SIZE[1], INPUT_SIZE[0])),
            "macs_256": count_macs(crwt, (1, 1, 256, 256)),
            "macs_encoder_input": count_macs(crwt.encoder, (1, 1, INPUT_SIZE[1], INPUT_SIZE[0])),
            "flops_counted_as": "2 x multiply-accumulates of every Conv2d, by forward hooks",
        },
        "data": {
            "input_size": list(INPUT_SIZE),
            "window_c": list(WINDOW_C),
            "training_frames": len(train_ex),
            "test_frames": len(test_ex),
            "probe_frames": len(probe_idx),
            "frame_px_per_input_px": scale,
            "every_train": plan.every_train,
            "every_test": plan.every_test,
            "foreground": f"label-free: median + {WARM_ABOVE_C} C <= T <= {WARM_MAX_C} C",
            "warm_share": round(float(fg_ex.labels.mean()), 4),
        },
        "loss": f"MSE + {SSIM_WEIGHT} (1 - SSIM), at half the input resolution",
        "training": training,
        "package": package,
        "quick": req.quick,
        "seconds": round(time.perf_counter() - t_start, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "threads": torch.get_num_threads(),
    }
    return result, markdown(result, PAPER)


def _export(req, model, weight, test_img, test_paths, plan, split, figures, log) -> dict:
    """The crwt encoder + probe as a package under ``--out``
    (:func:`~models.training.package_writer.publish_package`: parity, measured through
    the app's runner, published whole or not at all)."""
    w, h = INPUT_SIZE
    # Normalized coordinates, the packages' default: parity is then judged on the
    # scale of the image (1e-4 of its width: 0.016 input px), not on raw pixel values
    # where float32 alone differs by ~1e-5 per unit in the last place.
    probe = KeypointProbe(model.encoder, *map(torch.from_numpy, weight), normalize=(w, h)).eval()
    manifest = Manifest(
        task="keypoints",
        input=InputSpec(w, h, "thermal", "thermal", "grayscale", WINDOW_C),
        output=OutputSpec("coordinates", "keypoints", coordinates="normalized"),
        keypoints=JOINTS,
        description="Knees and ankles from self-supervised keypoints (SPMKD, CRWT) and a"
        " linear map fitted on a few labeled frames",
    )

    def measure(runner: ModelRunner) -> tuple[dict, dict]:
        m = _through_runner(runner, test_paths, plan)
        return (
            {"median_error_px": m["median_px"], "p95_error_px": m["p95_px"]},
            {"experiment_figures": figures, "through_runner": m},
        )

    def provenance(par: dict, figs: dict, heldout: dict, onnx: Path) -> dict:
        return {
            "trained_by": "thermorig experiment spmkd" + (" --quick" if req.quick else ""),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cross_subject": {"train_subjects": split.train_ids, "test_subjects": split.test_ids},
            "method": "SPMKD encoder trained without keypoint labels (reconstruction, CRWT);"
            " linear map from its keypoints to the joints fitted on a few labeled frames",
            **measured_record(probe, model.config.to_dict(), par, figs, heldout, onnx),
        }

    pub = publish_package(
        probe, manifest, req.out, PACKAGE, test_img[:4].numpy(), measure, provenance
    )
    log(f"package parity torch vs onnxruntime: max abs diff {pub.parity['max_abs_diff']:.2e}")
    log(f"wrote {pub.onnx} and {pub.json.name}")
    return {"onnx": pub.onnx.name, "json": pub.json.name, "parity": pub.parity,
            **pub.heldout["through_runner"]}  # fmt: skip


def _through_runner(runner: ModelRunner, paths: list[Path], plan: Plan) -> dict:
    """Median error (frame px) of the package run as the app runs it, on up to
    ``plan.package_frames`` test frames spread over the test sessions."""
    errors = []
    per = max(1, plan.package_frames // len(paths))
    for p in paths:
        with SessionReader(p) as s:
            names = list((s.truth or {}).get("keypoints") or [])
            idx = [names.index(j) for j in JOINTS]
            for i in np.linspace(0, s.count("thermal") - 1, per).round().astype(int):
                f = s.frame("thermal", int(i))
                pred = runner.run(f.array).keypoints
                errors.append(np.linalg.norm(pred - f.truth["keypoints"][idx], axis=1))
    return {**_stats(np.concatenate(errors)), "frames": len(errors)}
