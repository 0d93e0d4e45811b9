"""Train, evaluate and package the two bundled thermal models.

``python -m models.training.train_bundled --out resources/models``

1. Renders its own synthetic sessions with the synthetic rig: training sessions and
   held-out sessions of other seeds (other subjects: leg lengths, girth, skin
   temperature and its left/right asymmetry, shoes, warming noise), cycling and
   treadmill, free-running and hardware-synced. Only the thermal stream is used, so
   the depth and colour cameras render at a small size (the thermal images are
   bit-identical to a full-size session's).
2. Trains the calf segmenter and the leg keypoint model (:mod:`models.training.train`).
3. Exports both to ONNX, checks torch-vs-onnxruntime parity, and measures held-out
   figures through the app's own runner (:mod:`models.training.heldout`).
4. Writes ``NAME.onnx`` + ``NAME.json`` with those figures and how they were measured.

About 8-10 minutes on a 2-core CPU. ``--quick`` is a smoke run (minutes less, worse
models): never ship its output.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from drivers.recorder import record
from drivers.session import SessionReader
from drivers.synthetic import open_synthetic
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
    scene: str
    seed: int
    hw_sync: bool
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.scene}-s{self.seed}{'-hw' if self.hw_sync else ''}-{self.seconds:g}s"

    def to_dict(self) -> dict:
        return {
            "scene": self.scene,
            "seed": self.seed,
            "hw_sync": self.hw_sync,
            "seconds": self.seconds,
        }


def plans(quick: bool) -> tuple[list[SessionPlan], list[SessionPlan]]:
    """Training and held-out sessions: disjoint seeds, both scenes, both clock modes."""
    sec = 2.0 if quick else 3.0
    n_cyc, n_tm = (3, 2) if quick else (10, 6)
    train_plan = [SessionPlan("cycling", 1000 + i, i % 2 == 1, sec) for i in range(n_cyc)]
    train_plan += [SessionPlan("treadmill", 1100 + i, i % 2 == 1, sec) for i in range(n_tm)]
    held = [
        SessionPlan("cycling", 2000, False, 2.0),
        SessionPlan("cycling", 2001, True, 2.0),
        SessionPlan("cycling", 2002, False, 2.0),
        SessionPlan("treadmill", 2100, False, 2.0),
        SessionPlan("treadmill", 2101, True, 2.0),
    ]
    return train_plan, (held[:2] + held[3:4] if quick else held)


def simulate(plan: SessionPlan, folder: Path) -> Path:
    """Render and record one session (thermal at full size, others small)."""
    path = folder / f"{plan.name}.h5"
    driver = open_synthetic(
        plan.scene,
        seed=plan.seed,
        realtime=False,
        duration=plan.seconds,
        hw_sync=plan.hw_sync,
        depth_size=(160, 120),
        color_size=(160, 90),
    )
    driver.open()
    try:
        record(driver, path, activity=plan.scene, notes=f"training data {plan.name}")
    finally:
        driver.close()
    return path


def _provenance_common(train_plan, held_plan, stats, arch, params, onnx_path, par) -> dict:
    return {
        "trained_by": "python -m models.training.train_bundled",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_data": {
            "source": "synthetic rig (drivers.synthetic), thermal stream with ground truth",
            "sessions": [p.to_dict() for p in train_plan],
            "frames": stats["examples"],
        },
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
            "every frame of each held-out session (seeds never used in training), run"
            " through models.runner.ModelRunner on full 640x512 frames; pixels pooled over"
            " frames per class as in `thermorig evaluate`"
        ),
        "heldout_sessions": [p.to_dict() for p in held_plan],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def _by_scene(held_plan: list[SessionPlan], held_paths: list[Path], fn) -> dict:
    out = {}
    for scene in sorted({p.scene for p in held_plan}):
        paths = [h for p, h in zip(held_plan, held_paths, strict=True) if p.scene == scene]
        out[scene] = fn(paths)
    return out


def build_segmenter(ex, train_plan, held_plan, held_paths, out_dir, cfg, log) -> dict:
    arch = UNetConfig(1, len(ex.classes), (16, 24, 40, 64))
    model, stats = train(ex, arch, cfg, "segmentation", log)
    manifest = Manifest(
        task="segmentation",
        input=THERMAL_INPUT,
        output=OutputSpec("logits", "logits"),
        classes=tuple(ex.classes),
        description="Left and right calf in rear-view thermal images of cycling and running",
    )
    onnx_path, runner, par = _export_checked(model, manifest, SEG_NAME, out_dir, held_paths, log)
    overall = segmentation_iou(runner, held_paths)
    by_scene = _by_scene(held_plan, held_paths, lambda ps: segmentation_iou(runner, ps))
    figures = {"mean_iou": overall["mean_iou"]}
    figures.update({f"iou_{k}": v for k, v in overall["iou"].items() if k != "background"})
    prov = _provenance_common(
        train_plan, held_plan, stats, arch, count_parameters(model), onnx_path, par
    )
    prov["figures"] = figures
    prov["heldout"] = {
        **overall,
        "by_scene": {s: {k: v[k] for k in ("mean_iou", "iou")} for s, v in by_scene.items()},
    }
    _write(manifest, prov, out_dir / f"{SEG_NAME}.json")
    return prov


def build_keypoints(ex, train_plan, held_plan, held_paths, out_dir, cfg, log) -> dict:
    arch = UNetConfig(1, len(ex.keypoint_names), (16, 24, 40, 64))
    model, stats = train(ex, arch, cfg, "keypoints", log)
    manifest = Manifest(
        task="keypoints",
        input=THERMAL_INPUT,
        output=OutputSpec("heatmaps", "heatmaps"),
        keypoints=tuple(ex.keypoint_names),
        description="Knees, ankles and heels in rear-view thermal images (soft-argmax heatmaps)",
    )
    onnx_path, runner, par = _export_checked(model, manifest, KP_NAME, out_dir, held_paths, log)
    overall = keypoint_errors(runner, held_paths)
    by_scene = _by_scene(held_plan, held_paths, lambda ps: keypoint_errors(runner, ps)["all"])
    figures = {
        "median_error_px": overall["all"]["median_px"],
        "p95_error_px": overall["all"]["p95_px"],
    }
    prov = _provenance_common(
        train_plan, held_plan, stats, arch, count_parameters(model), onnx_path, par
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
    p.add_argument("--work", type=Path, help="keep the rendered sessions in this folder")
    p.add_argument("--quick", action="store_true", help="smoke run: fewer sessions and steps")
    p.add_argument("--seg-steps", type=int, default=None)
    p.add_argument("--kp-steps", type=int, default=None)
    p.add_argument("--only", choices=("segmentation", "keypoints"), help="train one model")
    args = p.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="thermorig-train-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        train_plan, held_plan = plans(args.quick)
        t0 = time.perf_counter()
        paths = {}
        for plan in train_plan + held_plan:
            target = work / f"{plan.name}.h5"
            paths[plan] = target if target.exists() else simulate(plan, work)
        log(
            f"sessions: {len(train_plan)} training, {len(held_plan)} held-out"
            f" ({time.perf_counter() - t0:.0f} s)"
        )
        ex = Examples.concat([load_session(paths[pl], INPUT_SIZE) for pl in train_plan])
        ex.classes, ex.keypoint_names = list(DEFAULT_CLASSES), list(DEFAULT_KEYPOINTS)
        log(f"training frames: {len(ex)}")
        held_paths = [paths[pl] for pl in held_plan]
        seg_steps = args.seg_steps or (60 if args.quick else 700)
        kp_steps = args.kp_steps or (60 if args.quick else 700)
        results = {}
        if args.only in (None, "segmentation"):
            cfg = TrainConfig(steps=seg_steps, window_c=WINDOW_C, seed=1)
            results[SEG_NAME] = build_segmenter(
                ex, train_plan, held_plan, held_paths, args.out, cfg, log
            )
            log(f"{SEG_NAME}: {results[SEG_NAME]['figures']}")
        if args.only in (None, "keypoints"):
            cfg = TrainConfig(steps=kp_steps, window_c=WINDOW_C, seed=2)
            results[KP_NAME] = build_keypoints(
                ex, train_plan, held_plan, held_paths, args.out, cfg, log
            )
            log(f"{KP_NAME}: {results[KP_NAME]['figures']}")
        log(f"done in {time.perf_counter() - t_start:.0f} s; packages in {args.out}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
