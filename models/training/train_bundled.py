"""Train, evaluate and package the two bundled thermal models.

``thermorig simulate-study STUDY --subjects 16 --seconds 3 --scene both --seed 7``
``python -m models.training.train_bundled --study STUDY --out resources/models --seg-steps 1800``

1. Splits a synthetic study by subject: the last ``--test-subjects`` people of the
   index are held out, never seen in training (cross-subject: other heights, girths,
   skin temperatures and patterns, clothing, rig placements and rooms). Only the
   thermal stream is used.
2. Trains the calf segmenter and the leg keypoint model (:mod:`models.training.train`).
3. Exports both to ONNX, checks torch-vs-onnxruntime parity, and measures held-out
   figures through the app's own runner (:mod:`models.training.heldout`).
4. Writes ``NAME.onnx`` + ``NAME.json`` with those figures and how they were measured.

The study takes ~8 minutes to render and the training ~35 minutes on a 2-core CPU.
``--quick`` is a smoke run (minutes less, worse
models): never ship its output.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from drivers.session import SessionReader
from drivers.study import read_study, split_subjects
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
from models.catalog import BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER
from models.package import load_package
from models.preprocess import prepare
from models.runner import ModelRunner
from models.spec import InputSpec, Manifest, OutputSpec
from models.training.dataset import Examples, load_session
from models.training.heldout import keypoint_errors, segmentation_iou
from models.training.nets import UNetConfig, count_parameters
from models.training.onnx_export import OPSET, export_onnx, parity
from models.training.train import TrainConfig, train

SEG_NAME = BUNDLED_SEGMENTER
KP_NAME = BUNDLED_KEYPOINTS
INPUT_SIZE = (320, 256)  # half of the 640x512 thermal frame: same aspect, exact 2x
WINDOW_C = (15.0, 40.0)
#: What both networks read: the thermal frame at INPUT_SIZE in a fixed window.
THERMAL_INPUT = InputSpec(INPUT_SIZE[0], INPUT_SIZE[1], "thermal", "thermal", "grayscale", WINDOW_C)


@dataclass(frozen=True)
class SessionPlan:
    """One session of the study: which person, which scene, and how to render it again."""

    path: Path
    subject_id: str
    subject_seed: int
    scene: str
    seed: int
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.subject_id}/{self.path.stem}"

    def to_dict(self) -> dict:
        """What renders the session again: ``open_synthetic(scene, seed=seed,
        subject=subject_seed, duration=seconds)`` (the thermal stream does not depend on
        the other cameras' image sizes)."""
        return {
            "subject": self.subject_id,
            "subject_seed": self.subject_seed,
            "scene": self.scene,
            "seed": self.seed,
            "seconds": self.seconds,
        }


def plans(study_dir: Path, test_subjects: int, quick: bool) -> tuple[list, list, dict]:
    """Training and test sessions of a study, split by subject (never a test subject's
    session in training), and the split itself for the provenance."""
    study = read_study(study_dir)
    train_subj, test_subj = split_subjects(study, test_subjects)
    if quick:
        train_subj, test_subj = train_subj[:3], test_subj[:1]

    def sessions(subjects) -> list[SessionPlan]:
        return [
            SessionPlan(Path(study_dir) / x.path, s.id, s.seed, x.scene, x.seed, x.seconds)
            for s in subjects
            for x in s.sessions
        ]

    split = {
        "study": {"made_by": "thermorig simulate-study", **study.generator},
        "train_subjects": [s.id for s in train_subj],
        "test_subjects": [s.id for s in test_subj],
    }
    return sessions(train_subj), sessions(test_subj), split


def _provenance_common(split, train_plan, held_plan, stats, arch, params, onnx_path, par) -> dict:
    return {
        "trained_by": "python -m models.training.train_bundled",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_data": {
            "source": "a synthetic study (thermorig simulate-study): subjects who differ,"
            " each session in its own rig placement; thermal stream with ground truth",
            "sessions": [p.to_dict() for p in train_plan],
            "frames": stats["examples"],
        },
        "cross_subject": split,
        "training": stats,
        "architecture": {**arch.to_dict(), "parameters": params},
        "onnx": {
            "opset": OPSET,
            "bytes": onnx_path.stat().st_size,
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        },
        "parity_torch_vs_onnxruntime": par,
        "heldout_protocol": (
            "cross-subject: every frame of each session of the test subjects (people never"
            " seen in training), run through models.runner.ModelRunner on full 640x512"
            " frames; pixels pooled over frames per class as in `thermorig evaluate`"
        ),
        "heldout_sessions": [p.to_dict() for p in held_plan],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def _by_scene(held_plan: list[SessionPlan], fn) -> dict:
    out = {}
    for scene in sorted({p.scene for p in held_plan}):
        out[scene] = fn([p.path for p in held_plan if p.scene == scene])
    return out


def _named(figures: dict, held_plan: list[SessionPlan]) -> dict:
    """Per-session figures named by what renders each session again (a test re-measures
    them: the claim is checkable, not just stated)."""
    rows = figures.pop("sessions")
    figures["sessions"] = [
        {**p.to_dict(), **{k: v for k, v in r.items() if k != "session"}}
        for p, r in zip(held_plan, rows, strict=True)
    ]
    return figures


def build_segmenter(ex, split, train_plan, held_plan, out_dir, cfg, log) -> dict:
    arch = UNetConfig(1, len(ex.classes), (16, 24, 40, 64))
    model, stats = train(ex, arch, cfg, "segmentation", log)
    manifest = Manifest(
        task="segmentation",
        input=THERMAL_INPUT,
        output=OutputSpec("logits", "logits"),
        classes=tuple(ex.classes),
        description="Left and right calf in rear-view thermal images of cycling and running",
    )
    held_paths = [p.path for p in held_plan]
    onnx_path, runner, par = _export_checked(model, manifest, SEG_NAME, out_dir, held_paths, log)
    overall = _named(segmentation_iou(runner, held_paths), held_plan)
    by_scene = _by_scene(held_plan, lambda ps: segmentation_iou(runner, ps))
    figures = {"mean_iou": overall["mean_iou"]}
    figures.update({f"iou_{k}": v for k, v in overall["iou"].items() if k != "background"})
    prov = _provenance_common(
        split, train_plan, held_plan, stats, arch, count_parameters(model), onnx_path, par
    )
    prov["figures"] = figures
    prov["heldout"] = {
        **overall,
        "by_scene": {s: {k: v[k] for k in ("mean_iou", "iou")} for s, v in by_scene.items()},
    }
    _write(manifest, prov, out_dir / f"{SEG_NAME}.json")
    return prov


def build_keypoints(ex, split, train_plan, held_plan, out_dir, cfg, log) -> dict:
    arch = UNetConfig(1, len(ex.keypoint_names), (16, 24, 40, 64))
    model, stats = train(ex, arch, cfg, "keypoints", log)
    manifest = Manifest(
        task="keypoints",
        input=THERMAL_INPUT,
        output=OutputSpec("heatmaps", "heatmaps"),
        keypoints=tuple(ex.keypoint_names),
        description="Knees, ankles and heels in rear-view thermal images (soft-argmax heatmaps)",
    )
    held_paths = [p.path for p in held_plan]
    onnx_path, runner, par = _export_checked(model, manifest, KP_NAME, out_dir, held_paths, log)
    overall = _named(keypoint_errors(runner, held_paths), held_plan)
    by_scene = _by_scene(held_plan, lambda ps: keypoint_errors(runner, ps)["all"])
    figures = {
        "median_error_px": overall["all"]["median_px"],
        "p95_error_px": overall["all"]["p95_px"],
    }
    prov = _provenance_common(
        split, train_plan, held_plan, stats, arch, count_parameters(model), onnx_path, par
    )
    prov["figures"] = figures
    prov["heldout"] = {**overall, "by_scene": by_scene}
    _write(manifest, prov, out_dir / f"{KP_NAME}.json")
    return prov


def _export_checked(
    model: torch.nn.Module, manifest: Manifest, name: str, out_dir: Path, held_paths, log
) -> tuple[Path, ModelRunner, dict]:
    """``name``.onnx beside a provisional manifest (so that the app's own runner loads it,
    as it will load the shipped package), and torch-vs-onnxruntime parity on held-out
    frames (argmax agreement only where the outputs are class scores)."""
    onnx_path = export_onnx(
        model,
        (1, 1, INPUT_SIZE[1], INPUT_SIZE[0]),
        out_dir / f"{name}.onnx",
        manifest.input.name,
        manifest.output.name,
    )
    manifest.write(out_dir / f"{name}.json")
    runner = ModelRunner(load_package(onnx_path))
    par = parity(model, onnx_path, _parity_inputs(held_paths, manifest))
    if manifest.output.kind != "logits":
        par.pop("argmax_agreement", None)
    log(f"  parity: {par}")
    return onnx_path, runner, par


def _parity_inputs(paths: list[Path], manifest: Manifest, n: int = 4) -> np.ndarray:
    xs = []
    with SessionReader(paths[0]) as s:
        for i in np.linspace(0, s.count("thermal") - 1, n).astype(int):
            xs.append(prepare(s.frame("thermal", int(i)).array, manifest.input)[0][0])
    return np.stack(xs)


def _write(manifest: Manifest, provenance: dict, path: Path) -> None:
    Manifest(
        task=manifest.task,
        input=manifest.input,
        output=manifest.output,
        classes=manifest.classes,
        keypoints=manifest.keypoints,
        description=manifest.description,
        provenance=provenance,
    ).write(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m models.training.train_bundled", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--out", type=Path, required=True, help="folder for the model packages")
    p.add_argument(
        "--study",
        type=Path,
        required=True,
        help="a study made by `thermorig simulate-study` (DIR with study.json)",
    )
    p.add_argument(
        "--test-subjects",
        type=int,
        default=4,
        help="how many subjects (the study's last) are held out for the cross-subject figures",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: fewer sessions and steps")
    p.add_argument("--seg-steps", type=int, default=None)
    p.add_argument("--kp-steps", type=int, default=None)
    p.add_argument("--only", choices=("segmentation", "keypoints"), help="train one model")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    train_plan, held_plan, split = plans(args.study, args.test_subjects, args.quick)
    log(
        f"sessions: {len(train_plan)} training ({len(split['train_subjects'])} subjects),"
        f" {len(held_plan)} held out ({len(split['test_subjects'])} other subjects)"
    )
    ex = Examples.concat([load_session(pl.path, INPUT_SIZE) for pl in train_plan])
    ex.classes, ex.keypoint_names = list(DEFAULT_CLASSES), list(DEFAULT_KEYPOINTS)
    log(f"training frames: {len(ex)}")
    seg_steps = args.seg_steps or (60 if args.quick else 700)
    kp_steps = args.kp_steps or (60 if args.quick else 700)
    results = {}
    if args.only in (None, "segmentation"):
        cfg = TrainConfig(steps=seg_steps, window_c=WINDOW_C, seed=1)
        results[SEG_NAME] = build_segmenter(ex, split, train_plan, held_plan, args.out, cfg, log)
        log(f"{SEG_NAME}: {results[SEG_NAME]['figures']}")
    if args.only in (None, "keypoints"):
        cfg = TrainConfig(steps=kp_steps, window_c=WINDOW_C, seed=2)
        results[KP_NAME] = build_keypoints(ex, split, train_plan, held_plan, args.out, cfg, log)
        log(f"{KP_NAME}: {results[KP_NAME]['figures']}")
    log(f"done in {time.perf_counter() - t_start:.0f} s; packages in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
