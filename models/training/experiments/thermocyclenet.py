"""The ThermoCycleNet table on a study: does pre-training on auto labels, then
fine-tuning on a share of the manual ones, beat training on manual labels alone?

Variants, all the same small UNet (:class:`~models.training.nets.TinyUNet`) on thermal,
all cross-subject (the test subjects' frames are never trained on):

- ``M``: manual labels only, from random weights, for as many steps as ``S`` plus
  one fine-tuning — the same compute as ``S+100``, so a win of ``S+100`` is the auto
  labels' doing, not more steps';
- ``S``: auto labels only (autolabel's, see :mod:`.thermocyclenet_data`);
- ``S+N`` (N = 5, 10, 25, 50, 100): ``S``'s weights fine-tuned on N % of the manual
  frames of the training subjects (evenly spaced through them), at a lower rate.

The **domain shift** (the paper's second check), when the study has both scenes: auto
labels from the treadmill sessions only, manual ones from cycling only, scored on the
test subjects' cycling sessions (``S``, ``S+10``, ``S+100`` and ``M`` as above).

Every variant is exported, checked torch-vs-onnxruntime and measured through the
app's runner on full frames, as ``thermorig train`` does
(:mod:`models.training.package_writer`); each is published as a model package under
``OUT/packages`` — never over an existing file.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from models.runner import ModelRunner
from models.spec import InputSpec, Manifest, OutputSpec
from models.training.dataset import Augment, Examples
from models.training.experiments.common import (
    ExperimentRequest,
    Log,
    study_split,
)
from models.training.experiments.thermocyclenet_data import (
    LabelSources,
    auto_label_summaries,
    label_sources,
    load_auto,
    load_manual,
    share,
)
from models.training.experiments.thermocyclenet_report import markdown
from models.training.heldout import segmentation_iou
from models.training.heldout_labels import label_segmentation_iou
from models.training.labelset import TrainingDataError, labels_path_for
from models.training.nets import UNetConfig
from models.training.package_writer import measured_record, package_paths, publish_package
from models.training.train import TrainConfig, train
from models.training.train_bundled import _parity_inputs

NAME = "thermocyclenet"
SHARES = (5, 10, 25, 50, 100)
SHIFT_SHARES = (10, 100)
PAPER = {"M": 0.6752, "S2": 0.6076, "S4": 0.7319}
PARITY_LIMIT = 1e-4


@dataclass(frozen=True)
class Schedule:
    """How long and how big: ``--quick`` and the default."""

    channels: tuple[int, int, int, int]
    input_size: tuple[int, int]
    batch_size: int
    pretrain_steps: int
    finetune_steps: int
    shift_pretrain_steps: int
    shift_finetune_steps: int
    lr: float = 4e-3
    finetune_lr: float = 1e-3
    window_c: tuple[float, float] = (15.0, 40.0)


#: A few minutes on 2 cores: a quarter-size input, the half-width net, no domain shift.
QUICK = Schedule((8, 12, 20, 32), (160, 128), 8, 300, 80, 0, 0, finetune_lr=2e-3)
#: The committed run (docs/experiments/thermocyclenet.md): about half an hour on 2 cores.
FULL = Schedule((8, 12, 20, 32), (240, 192), 8, 700, 200, 300, 120, finetune_lr=2e-3)
AUGMENT = Augment(rotate_deg=5.0)


@dataclass
class _Context:
    req: ExperimentRequest
    sched: Schedule
    src: LabelSources
    classes: list[str]
    train_ids: list[str]
    test_ids: list[str]
    log: Log

    @property
    def packages(self) -> Path:
        return self.req.out / "packages"


def _config(ctx: _Context, steps: int, lr: float, n: int) -> TrainConfig:
    s = ctx.sched
    return TrainConfig(
        steps=steps,
        batch_size=min(s.batch_size, n),
        lr=lr,
        seed=ctx.req.seed,
        device=ctx.req.device,
        window_c=s.window_c,
        augment=AUGMENT,
    )


def _measure(ctx: _Context, runner: ModelRunner, test: list[Path]) -> tuple[dict, dict]:
    """Against the test sessions' truth (synthetic) or their manual rows (a lab's)."""
    if ctx.src.synthetic:
        full = segmentation_iou(runner, test)
        full["measured_against"] = "ground truth of every frame of the test subjects' sessions"
    else:
        full = label_segmentation_iou(runner, [(p, labels_path_for(p)) for p in test])
        full["measured_against"] = "the manual rows of the test subjects' label files"
    per_class = {k: v for k, v in full["iou"].items() if k != ctx.classes[0]}
    return {"mean_iou": full["mean_iou"], "per_class": per_class}, full


def _fit(
    ctx: _Context,
    name: str,
    ex: Examples,
    steps: int,
    lr: float,
    test: list[Path],
    training: dict,
    init: dict | None = None,
) -> tuple[dict, dict]:
    """Train one variant, publish it as ``OUT/packages/NAME``; (figures, weights)."""
    ctx.log(f"{name}: {len(ex)} frames, {steps} steps")
    arch = UNetConfig(1, len(ctx.classes), ctx.sched.channels)
    cfg = _config(ctx, steps, lr, len(ex))
    model, stats = train(ex, arch, cfg, "segmentation", ctx.log, init=init)
    w, h = ctx.sched.input_size
    manifest = Manifest(
        task="segmentation",
        input=InputSpec(w, h, "thermal", "thermal", "grayscale", ctx.sched.window_c),
        output=OutputSpec("logits", "logits"),
        classes=tuple(ctx.classes),
        description=f"calf segmenter, ThermoCycleNet variant {name} (thermorig experiment"
        f" {NAME}), trained on {len(ctx.train_ids)} subjects",
    )

    def provenance(par: dict, figures: dict, heldout: dict, onnx: Path) -> dict:
        return {
            "trained_by": f"thermorig experiment {NAME}" + (" --quick" if ctx.req.quick else ""),
            "variant": name,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "study": str(ctx.req.study),
            "training_data": {**training, "frames": len(ex), "labels": ctx.src.describe()},
            "cross_subject": {
                "train_subjects": ctx.train_ids,
                "test_subjects": ctx.test_ids,
                "test_sessions": [str(p) for p in test],
            },
            "training": {**stats, "schedule": asdict(ctx.sched)},
            **measured_record(model, arch.to_dict(), par, figures, heldout, onnx),
        }

    pub = publish_package(
        model,
        manifest,
        ctx.packages,
        f"{NAME}-{name}",
        _parity_inputs(test, manifest),
        lambda runner: _measure(ctx, runner, test),
        provenance,
    )
    diff = pub.parity["max_abs_diff"]
    ctx.log(
        f"{name}: mean IoU {pub.figures['mean_iou']} on the test subjects; parity {diff:.1e};"
        f" {pub.onnx.name}"
    )
    figures = {
        **pub.figures,
        "training_frames": training,
        "steps": steps,
        "package": str(pub.onnx),
        "parity_max_abs_diff": diff,
        "parity_ok": diff <= PARITY_LIMIT,
        "train_seconds": stats["seconds"],
    }
    return figures, {k: v.clone() for k, v in model.state_dict().items()}


def _table(
    ctx: _Context,
    auto: Examples,
    manual: Examples,
    test: list[Path],
    pre: int,
    ft: int,
    shares: tuple[int, ...],
    prefix: str = "",
) -> dict[str, dict]:
    """``S``, its ``S+N`` fine-tunings and ``M`` on one pair of auto and manual sets."""
    out: dict[str, dict] = {}
    lr, ft_lr = ctx.sched.lr, ctx.sched.finetune_lr
    out["S"], s_weights = _fit(
        ctx, f"{prefix}S", auto, pre, lr, test, {"auto": len(auto), "manual": 0}
    )
    for pct in shares:
        part = share(manual, pct)
        out[f"S+{pct}"], _ = _fit(
            ctx,
            f"{prefix}S+{pct}",
            part,
            ft,
            ft_lr,
            test,
            {"auto": len(auto), "manual": len(part), "manual_share_percent": pct},
            init=s_weights,
        )
    out["M"], _ = _fit(
        ctx, f"{prefix}M", manual, pre + ft, lr, test, {"auto": 0, "manual": len(manual)}
    )
    return out


def _scene(paths: list[Path], scene: str) -> list[Path]:
    return [p for p in paths if p.name.startswith(scene)]


def run(req: ExperimentRequest, log: Log) -> tuple[dict, str]:
    t0, load0 = time.perf_counter(), os.getloadavg()
    split = study_split(req, log)
    train_s, test_s = split.sessions("train"), split.sessions("test")
    if not train_s or not test_s:
        raise TrainingDataError("the training and the test subjects each need sessions")
    sched = QUICK if req.quick else FULL
    src = label_sources(req.study, train_s, req.auto_labels)
    size = sched.input_size
    auto, manual = load_auto(src, train_s, size), load_manual(src, train_s, size)
    if auto.classes != manual.classes:
        raise TrainingDataError(
            f"auto labels name classes {auto.classes}, manual ones {manual.classes}"
        )
    ctx = _Context(req, sched, src, list(manual.classes), split.train_ids, split.test_ids, log)
    names = [f"{NAME}-{v}" for v in ("S", "M", *(f"S+{p}" for p in SHARES))]
    names += [f"{NAME}-shift-{v}" for v in ("S", "M", *(f"S+{p}" for p in SHIFT_SHARES))]
    for n in names:  # refused before training, not after
        package_paths(ctx.packages, n)
    log(
        f"subjects: {len(split.train)} training, {len(split.test)} held out"
        f" ({', '.join(split.test_ids)}); {len(auto)} auto and {len(manual)} manual frames"
    )
    variants = _table(ctx, auto, manual, test_s, sched.pretrain_steps, sched.finetune_steps, SHARES)
    result: dict = {
        "experiment": NAME,
        "train_subjects": split.train_ids,
        "test_subjects": split.test_ids,
        "variants": {k: variants[k] for k in ("M", "S", *(f"S+{p}" for p in SHARES))},
        "labels": src.describe(),
        "measured_against": "ground truth" if src.synthetic else "manual label rows",
    }
    if src.synthetic:
        result["auto_labels"] = auto_label_summaries(src, train_s)
    result["domain_shift"] = _domain_shift(ctx, train_s, test_s)
    result.update(
        quick=req.quick,
        schedule=asdict(sched),
        seconds=round(time.perf_counter() - t0, 1),
        load_average={"start": [round(x, 2) for x in load0], "end": _load()},
        torch_threads=torch.get_num_threads(),
        paper=PAPER,
    )
    return result, markdown(result)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _domain_shift(ctx: _Context, train_s: list[Path], test_s: list[Path]) -> dict:
    """Auto labels from treadmill, manual from cycling, scored on cycling."""
    if not ctx.sched.shift_pretrain_steps:
        return {"skipped": "not in --quick (the full run has it)"}
    tread, cyc = _scene(train_s, "treadmill"), _scene(train_s, "cycling")
    test = _scene(test_s, "cycling")
    if not (tread and cyc and test):
        return {"skipped": "the study lacks treadmill or cycling sessions of some side"}
    size = ctx.sched.input_size
    auto, manual = load_auto(ctx.src, tread, size), load_manual(ctx.src, cyc, size)
    s = ctx.sched
    variants = _table(
        ctx,
        auto,
        manual,
        test,
        s.shift_pretrain_steps,
        s.shift_finetune_steps,
        SHIFT_SHARES,
        prefix="shift-",
    )
    return {
        "auto_scene": "treadmill",
        "manual_scene": "cycling",
        "test_sessions": [str(p) for p in test],
        "variants": variants,
    }
