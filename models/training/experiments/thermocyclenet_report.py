"""The Markdown report of the ThermoCycleNet experiment: its table beside the paper's,
the domain shift, and what the auto labels were worth on their own — written from the
result alone, so a report can be rebuilt from a ``thermocyclenet.json``."""

from __future__ import annotations

from models.training.experiments.common import markdown_table

ORDER = ("M", "S", "S+5", "S+10", "S+25", "S+50", "S+100")
MEANING = {
    "M": "manual labels only",
    "S": "auto labels only",
}


def _meaning(v: str) -> str:
    return MEANING.get(v, f"S, then fine-tuned on {v[2:]} % of the manual frames")


def _rows(variants: dict, order: tuple[str, ...]) -> tuple[list[str], list[list[object]]]:
    first = next(iter(variants.values()))
    classes = list(first["per_class"])
    header = ["variant", "trained on", "auto frames", "manual frames", "mean IoU", *classes]
    rows = []
    for v in order:
        if v not in variants:
            continue
        f = variants[v]
        t = f["training_frames"]
        rows.append(
            [
                v,
                _meaning(v),
                t.get("auto", 0),
                t.get("manual", 0),
                f["mean_iou"],
                *(f["per_class"][c] for c in classes),
            ]
        )
    return header, rows


def _verdict(v: dict, a: str, b: str) -> str:
    x, y = v[a]["mean_iou"], v[b]["mean_iou"]
    word = "beats" if x > y else "does not beat"
    return f"{a} {word} {b}: {x:.3f} vs {y:.3f} ({x - y:+.3f})"


def markdown(result: dict) -> str:
    v = result["variants"]
    lines = [
        "# ThermoCycleNet on this study" + (" (--quick: a smoke run)" if result["quick"] else ""),
        "",
        f"Cross-subject: trained on {', '.join(result['train_subjects'])}; tested on"
        f" {', '.join(result['test_subjects'])} (never trained on), against"
        f" {result['measured_against']}. Mean IoU over the labeled classes, pixels pooled"
        " over every test frame, through the exported ONNX package and the app's runner.",
        "",
        f"Manual labels: {result['labels']['manual']}. Auto labels: {result['labels']['auto']}.",
    ]
    auto = result.get("auto_labels") or {}
    if "mean_iou_known" in auto:
        lines.append(
            f"The auto labels themselves score {auto['mean_iou_known']:.3f} mean IoU against"
            f" the truth over the pixels they label ({auto.get('mean_iou_strict', 0):.3f} with"
            " unknown pixels counted wrong)."
        )
    header, rows = _rows(v, ORDER)
    lines += ["", markdown_table(header, rows)]
    lines += [
        f"- {_verdict(v, 'S+100', 'M')}",
        f"- {_verdict(v, 'S+10', 'S')}",
        "",
        "The paper (ThermoCycleNet, on its own data): M 0.6752, S2 0.6076, S4 0.7319 mean IoU.",
    ]
    shift = result.get("domain_shift") or {}
    lines += ["", "## Domain shift: auto labels from treadmill, manual from cycling", ""]
    if "variants" in shift:
        lines.append("Scored on the test subjects' cycling sessions.")
        header, rows = _rows(shift["variants"], ORDER)
        lines += ["", markdown_table(header, rows)]
    else:
        lines.append(f"Not run: {shift.get('skipped', 'no result')}.")
    s = result["schedule"]
    par = max(x["parity_max_abs_diff"] for x in v.values())
    lines += [
        "",
        "## How",
        "",
        f"TinyUNet {s['channels']} at {s['input_size'][0]}x{s['input_size'][1]} thermal input,"
        f" batch {s['batch_size']}; S {s['pretrain_steps']} steps (lr {s['lr']}), each"
        f" fine-tuning {s['finetune_steps']} steps (lr {s['finetune_lr']}), M"
        f" {s['pretrain_steps'] + s['finetune_steps']} steps (S+100's total). Largest"
        f" torch-vs-onnxruntime difference {par:.1e}. {result['seconds']:.0f} s in all,"
        f" {result['torch_threads']} torch thread(s), load average"
        f" {result['load_average']['start'][0]} at the start,"
        f" {result['load_average']['end'][0]} at the end.",
        "",
    ]
    return "\n".join(lines)
