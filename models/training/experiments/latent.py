"""``thermorig experiment latent``: a CUTS-style encoder trained on unlabeled thermal
frames, then a light decoder on its frozen latents from a few labeled frames.

1. The training subjects' thermal frames (every ``every``-th of each session) are the
   *unlabeled* pool: the encoder (:mod:`models.training.latent_net`) never sees a label.
2. ``labeled_frames`` of them (at most 52, the paper's most), spread evenly over the
   training sessions (so over subjects and scenes), get their truth labels — standing
   in for a reviewer who painted that many frames. Only those labels are trained on.
3. The decoder is trained on the frozen latents of those frames (and their mirror
   images, with left and right swapped). The same decoder trained on the raw input
   of the same frames (``baseline``) says whether the latents help.
4. Mean IoU over the labeled classes (pixels pooled, as ``thermorig evaluate``) on the
   test subjects' frames against their truth, at the input size.

Two inputs (variants): ``grayscale`` (°C in ``WINDOW_C`` → one channel) and
``heatmap`` (the same window through the inferno colour map, as the app's
:mod:`models.preprocess` ``heatmap`` representation makes it → three channels), the
form many published thermal datasets — and the paper's — are stored in.

The better variant is exported as a segmentation package (encoder and decoder in one
ONNX file) under ``--out`` and checked torch-vs-onnxruntime.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from drivers.session import SessionReader
from models.metrics import class_counts, iou, joint_histogram
from models.postprocess import segmentation
from models.preprocess import fit, heatmap, temperature_window
from models.spec import InputSpec
from models.training.dataset import Examples, load_session, mirror_permutation
from models.training.experiments.common import (
    ExperimentError,
    ExperimentRequest,
    Log,
    markdown_table,
    study_split,
)
from models.training.experiments.latent_package import export_package
from models.training.latent_net import (
    EncoderConfig,
    LatentDecoder,
    LatentEncoder,
    LatentSegmenter,
    encode,
    train_encoder,
)
from models.training.train import TrainConfig, _optimizer, segmentation_loss

#: Input size (w, h): a quarter of the 640×512 thermal frame each way. Four unstrided
#: 5×5 convolutions at 128 channels cost ~0.27 M multiply-adds per pixel: 5.5 G per
#: frame here, 22 G at 320×256 — too slow to train and test on two CPU cores.
INPUT_SIZE = (160, 128)
WINDOW_C = (18.0, 38.0)
COLORMAP = "inferno"
VARIANTS = ("grayscale", "heatmap")
MAX_LABELED = 52
PAPER = "CUTS encoder + UNet decoder, 52 labeled images, 7 regions: mean IoU 0.662-0.669"


def _plan(quick: bool) -> dict:
    """Frame sampling and step counts: the full run takes ~32 min on 2 shared cores
    (2.5 min on a GPU), quick ~1.5. 3000 encoder steps, not 500: the contrastive term
    was still falling at 500, and the heatmap figure rose from 0.55 to 0.62."""
    if quick:
        return {"per_session": 4, "encoder_steps": 6, "decoder_steps": 4}
    return {"per_session": 15, "encoder_steps": 3000, "decoder_steps": 600}


def input_spec(variant: str) -> InputSpec:
    """The package input of a variant: what :func:`to_input` makes in training."""
    w, h = INPUT_SIZE
    return InputSpec(w, h, "thermal", "thermal", variant, WINDOW_C, COLORMAP)


def to_input(images_c: np.ndarray, variant: str) -> torch.Tensor:
    """(N, H, W) °C → (N, C, H, W) float32 network input, as :mod:`models.preprocess`
    makes it for a package with this representation."""
    if variant == "grayscale":
        x = temperature_window(images_c.astype(np.float32), WINDOW_C)[:, None]
    elif variant == "heatmap":
        spec = input_spec(variant)
        x = np.stack([heatmap(im.astype(np.float32), spec) for im in images_c]).transpose(
            0, 3, 1, 2
        )
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return torch.from_numpy(np.ascontiguousarray(x))


def pick_labeled(sources: list[tuple[str, int]], n: int) -> list[int]:
    """Indices of ``n`` frames spread over sessions (round robin, in study order) and,
    within each, evenly over time."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, (path, _) in enumerate(sources):
        by[path].append(i)
    counts = dict.fromkeys(by, 0)
    order = list(by)
    for k in range(min(n, len(sources))):
        while counts[order[k % len(order)]] >= len(by[order[k % len(order)]]):
            order.pop(k % len(order))
        counts[order[k % len(order)]] += 1
    picked = []
    for path, idx in by.items():
        c = counts[path]
        if c:
            picked += [idx[int(j)] for j in np.linspace(0, len(idx) - 1, c).round()]
    return sorted(picked)


def _load(paths: list[Path], per_session: int, log: Log, what: str) -> Examples:
    """About ``per_session`` frames of each session, evenly spaced."""
    t0 = time.perf_counter()
    parts = []
    for p in paths:
        with SessionReader(p) as s:
            every = max(1, s.count("thermal") // per_session)
        parts.append(load_session(p, INPUT_SIZE, every=every))
    ex = Examples.concat(parts)
    log(f"{what}: {len(ex)} frames of {len(paths)} sessions ({time.perf_counter() - t0:.0f} s)")
    return ex


def _mirrored(x: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> tuple:
    """``x`` and its mirror image; the labels likewise with left and right swapped."""
    perm = torch.tensor(mirror_permutation(classes) + list(range(len(classes), 256)))
    return torch.cat([x, x.flip(-1)]), torch.cat([labels, perm[labels.flip(-1)]])


def fit_decoder(
    features: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    steps: int,
    seed: int,
    device: str,
    log: Log,
    what: str,
) -> tuple[LatentDecoder, dict]:
    """Train a :class:`LatentDecoder` on fixed ``features`` (N, C, H, W) against
    ``labels`` (N, H, W); augmentation is a random shift of both (the features are
    frozen, and a shift commutes with convolutions)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    dev = torch.device(device)
    model = LatentDecoder(features.shape[1], classes).to(dev)
    cfg = TrainConfig(steps=steps, lr=5e-3, seed=seed)
    opt, sched = _optimizer(model, cfg)
    bs = min(6, len(features))
    t0 = time.perf_counter()
    losses = []
    model.train()
    for step in range(steps):
        idx = torch.randperm(len(features), generator=gen)[:bs]
        dy, dx = (int(v) for v in torch.randint(-8, 9, (2,), generator=gen))
        x = torch.roll(features[idx].float(), (dy, dx), (-2, -1)).to(dev)
        y = torch.roll(labels[idx], (dy, dx), (-2, -1)).to(dev)
        loss = segmentation_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            el = time.perf_counter() - t0
            log(f"  {what} step {step + 1}/{steps}  loss {np.mean(losses[-50:]):.4f}  {el:.0f} s")
    stats = {
        "steps": steps,
        "batch_size": bs,
        "examples": int(len(features)),
        "final_loss": round(float(np.mean(losses[-20:])), 5),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return model.cpu().eval(), stats


def frame_truth(sources: list[tuple[str, int]]) -> list[np.ndarray]:
    """The full-resolution truth class masks of the test frames: IoU is measured on
    them, as ``thermorig infer``/``evaluate`` would, not on the input-size masks."""
    out = []
    for path, i in sources:
        with SessionReader(path) as s:
            out.append(s.frame("thermal", i).truth["labels"])
    return out


@torch.no_grad()
def pooled_iou(
    model: torch.nn.Module, x: torch.Tensor, truth: list[np.ndarray], classes: list[str]
) -> dict:
    """Per-class IoU (pixels pooled over frames) of the frame-size masks the app's
    post-processing makes from the class scores, and the mean over the labeled classes."""
    c = len(classes)
    h, w = truth[0].shape
    geometry = fit(w, h, x.shape[-1], x.shape[-2], "letterbox")
    counts = np.zeros((3, c), np.int64)
    for i in range(0, len(x), 4):
        logits = model(x[i : i + 4].float()).numpy()
        for t, scores in zip(truth[i : i + 4], logits, strict=True):
            pred = segmentation(scores[None], geometry, c).mask
            counts += np.stack(class_counts(joint_histogram(t, pred, c), c))
    per = np.nan_to_num(iou(*counts), nan=0.0)
    return {
        "mean_iou": round(float(per[1:].mean()), 4),
        "per_class": {k: round(float(v), 4) for k, v in zip(classes[1:], per[1:], strict=True)},
    }


def run_variant(
    variant: str,
    train: Examples,
    labeled: list[int],
    test: Examples,
    truth: list[np.ndarray],
    req: ExperimentRequest,
    plan: dict,
    log: Log,
) -> tuple[dict, LatentEncoder, LatentDecoder]:
    """Encoder on every training frame (no labels), decoder and baseline on ``labeled``."""
    log(f"[{variant}]")
    classes = train.classes
    x_all = to_input(train.images, variant)
    enc_cfg = EncoderConfig(steps=plan["encoder_steps"], seed=req.seed)
    encoder, enc_stats = train_encoder(x_all, enc_cfg, req.device, log)
    x_lab, y_lab = _mirrored(
        x_all[labeled], torch.from_numpy(train.labels[labeled].astype(np.int64)), classes
    )
    t0 = time.perf_counter()
    z_lab = encode(encoder, x_lab)
    x_test = to_input(test.images, variant)
    z_test = encode(encoder, x_test)
    enc_s = time.perf_counter() - t0
    log(
        f"  latents of {len(x_lab)} labeled (with mirrors) and {len(x_test)} test frames: {enc_s:.0f} s"
    )
    steps, n = plan["decoder_steps"], len(classes)
    dec, dec_stats = fit_decoder(z_lab, y_lab, n, steps, req.seed, req.device, log, "decoder")
    latent = pooled_iou(dec, z_test, truth, classes)
    log(f"  latent decoder: test mean IoU {latent['mean_iou']:.3f} {latent['per_class']}")
    base, base_stats = fit_decoder(x_lab, y_lab, n, steps, req.seed, req.device, log, "baseline")
    baseline = pooled_iou(base, x_test, truth, classes)
    log(
        f"  baseline (same decoder on the raw input): test mean IoU {baseline['mean_iou']:.3f} {baseline['per_class']}"
    )
    figures = {
        **latent,
        "baseline": baseline,
        "encoder": enc_stats,
        "decoder": dec_stats,
        "baseline_decoder": base_stats,
        "encode_seconds": round(enc_s, 1),
    }
    return figures, encoder, dec


def run(req: ExperimentRequest, log: Log) -> tuple[dict, str]:
    if not 1 <= req.labeled_frames <= MAX_LABELED:
        raise ExperimentError(
            f"--labeled-frames {req.labeled_frames}: give 1 to {MAX_LABELED} (the paper's most)"
        )
    t0 = time.perf_counter()
    plan = _plan(req.quick)
    split = study_split(req, log)
    train = _load(
        split.sessions("train"), plan["per_session"], log, "unlabeled pool (training subjects)"
    )
    test = _load(
        split.sessions("test"), plan["per_session"], log, "test frames (held-out subjects)"
    )
    if req.labeled_frames > len(train):
        raise ExperimentError(
            f"--labeled-frames {req.labeled_frames}: the training subjects give {len(train)} frames"
        )
    labeled = pick_labeled(train.sources, req.labeled_frames)
    truth = frame_truth(test.sources)
    variants, models = {}, {}
    for v in VARIANTS:
        variants[v], enc, dec = run_variant(v, train, labeled, test, truth, req, plan, log)
        models[v] = LatentSegmenter(enc, dec)
    best = max(VARIANTS, key=lambda v: variants[v]["mean_iou"])
    spec = input_spec(best)
    package = export_package(
        req, best, spec, models[best], variants[best], split, train, labeled, log
    )
    result = {
        "experiment": "latent",
        "train_subjects": split.train_ids,
        "test_subjects": split.test_ids,
        "labeled_frames": len(labeled),
        "labeled_sources": [
            [
                Path(train.sources[i][0]).parent.name + "/" + Path(train.sources[i][0]).name,
                train.sources[i][1],
            ]
            for i in labeled
        ],
        "unlabeled_frames": len(train),
        "test_frames": len(test),
        "classes": train.classes,
        "input_size": list(INPUT_SIZE),
        "window_c": list(WINDOW_C),
        "colormap": COLORMAP,
        "variants": variants,
        "best_variant": best,
        "package": package,
        "quick": req.quick,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return result, report(result)


def report(result: dict) -> str:
    """The Markdown table, beside the paper's figure."""
    classes = result["classes"][1:]
    rows = []
    for v, f in result["variants"].items():
        rows.append(
            [v, "latent (frozen encoder)", f["mean_iou"], *(f["per_class"][c] for c in classes)]
        )
        b = f["baseline"]
        rows.append(
            [v, "baseline (raw input)", b["mean_iou"], *(b["per_class"][c] for c in classes)]
        )
    table = markdown_table(["input", "decoder reads", "mean IoU", *classes], rows)
    lines = [
        "# latent: CUTS-style encoder, decoder from few labeled frames",
        "",
        f"Training subjects: {', '.join(result['train_subjects'])}; test subjects:"
        f" {', '.join(result['test_subjects'])}. {result['unlabeled_frames']} unlabeled frames,"
        f" {result['labeled_frames']} labeled, {result['test_frames']} test frames at"
        f" {result['input_size'][0]}×{result['input_size'][1]}, window"
        f" {result['window_c'][0]:g}-{result['window_c'][1]:g} °C.",
        "",
        table,
        f"Paper: {PAPER}.",
        "",
        f"Best variant: {result['best_variant']}; run time {result['seconds']:.0f} s"
        + (" (--quick: a smoke run, not figures)." if result["quick"] else "."),
    ]
    if result.get("package"):
        p = result["package"]
        lines.append(
            f"Package: {p['onnx']} (parity torch vs onnxruntime max abs diff {p['parity_max_abs_diff']:.1e})."
        )
    return "\n".join(lines) + "\n"
