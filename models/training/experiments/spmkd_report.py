"""The Markdown report of ``thermorig experiment spmkd``: the variants' errors beside
the untrained network and a mean-pose baseline, the network's size beside the paper's,
and the facts a reader needs to judge them (data, loss, training time)."""

from __future__ import annotations

from models.training.experiments.common import markdown_table

VARIANT_TEXT = {
    "crwt": "foreground classification, matching weights copied, then reconstruction",
    "no_crwt": "reconstruction from scratch (same total steps)",
    "random_init": "the same network, untrained",
}


def _steps(training: dict, name: str) -> str:
    t = training.get(name)
    if not t:
        return "0"
    parts = [f"{v['steps']} {k}" for k, v in t.items() if isinstance(v, dict)]
    secs = sum(v["seconds"] for v in t.values() if isinstance(v, dict))
    return " + ".join(parts) + f" ({secs:.0f} s)"


def markdown(result: dict, paper: dict) -> str:
    v, net, data = result["variants"], result["network"], result["data"]
    rows = [
        [
            name,
            VARIANT_TEXT[name],
            v[name]["median_px"],
            v[name]["p95_px"],
            v[name]["ratio_to_random_init"],
            _steps(result["training"], name),
        ]
        for name in ("crwt", "no_crwt", "random_init")
    ]
    b = result["mean_pose_baseline"]
    rows.append(["mean pose", "the probe frames' mean joints, every frame", b["median_px"],
                 b["p95_px"], "", ""])  # fmt: skip
    table = markdown_table(
        ["variant", "what", "median px", "p95 px", "× random init", "training steps"], rows
    )
    joints = markdown_table(
        ["variant", *v["crwt"]["per_joint_median_px"]],
        [[n, *v[n]["per_joint_median_px"].values()] for n in ("crwt", "no_crwt", "random_init")],
    )
    size = markdown_table(
        ["network", "parameters", "GFLOPs at 256×256", "GFLOPs at the input size"],
        [
            ["SPMKD (paper)", paper["parameters"], paper["gflops_256"], ""],
            [
                "this one (encoder + decoder)",
                net["parameters"],
                round(2 * net["macs_256"] / 1e9, 3),
                round(2 * net["macs_input"] / 1e9, 3),
            ],
            [
                "this one, encoder only (deployed)",
                net["parameters_encoder"],
                "",
                round(2 * net["macs_encoder_input"] / 1e9, 3),
            ],
        ],
    )
    crwt, plain = v["crwt"]["median_px"], v["no_crwt"]["median_px"]
    pkg = result["package"]
    return f"""# spmkd: self-supervised keypoints{" (quick smoke run: not figures)" if result["quick"] else ""}

Training subjects: {", ".join(result["train_subjects"])}.
Test subjects (never trained on): {", ".join(result["test_subjects"])}.

Error of the knees and ankles on the test subjects' frames, in thermal frame pixels
(640×512), after a linear map from the {net["keypoints"]} learned keypoints fitted on
{data["probe_frames"]} labeled frames of the training subjects:

{table}
Per joint (median px):

{joints}
CRWT: median {crwt} px with it, {plain} px without ({crwt / plain:.2f}×).

Network ({net["keypoints"]} keypoints, {net["features"]} features each; FLOPs = 2 ×
multiply-accumulates of the convolutions, counted by forward hooks):

{size}
Data: {data["training_frames"]} training frames, {data["test_frames"]} test frames at
{data["input_size"][0]}×{data["input_size"][1]} ({data["frame_px_per_input_px"]:g} frame px per
input px), window {data["window_c"][0]:g}–{data["window_c"][1]:g} °C. Loss:
{result["loss"]}. CRWT's foreground: {data["foreground"]} ({100 * data["warm_share"]:.1f} %
of training pixels). Package `{pkg["onnx"]}`: parity max abs diff
{pkg["parity"]["max_abs_diff"]:.1e}, median {pkg["median_px"]} px through the app's runner
on {pkg["frames"]} test frames. {result["seconds"]:.0f} s on {result["machine"]}
({result["threads"]} torch threads).
"""
