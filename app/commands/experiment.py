"""``thermorig experiment calibration-sensitivity SESSION.h5 [--json] [--frames N]
[--report OUT.md] [--plot OUT.png] [--overwrite]``: experiments on synthetic sessions,
whose truth says what the right answer was (one sub-command per experiment)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from app.analysis.calibration_sensitivity import calibration_sensitivity
from app.analysis.sensitivity_report import format_table, markdown, write_plot, write_text
from app.commands.arguments import whole
from app.progress import lazy_progress
from drivers.errors import ThermorigError
from drivers.outputs import check_outputs, file_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experiment",
        help="experiments: calibration sensitivity; the training papers on a study",
        description="Controlled experiments on a synthetic session, scored against its truth.",
    )
    exp = p.add_subparsers(
        dest="experiment", metavar="EXPERIMENT", required=True, help="the experiment to run"
    )
    c = exp.add_parser(
        "calibration-sensitivity",
        help="label IoU and boundary error of the RGB-to-thermal transfer with the true rig"
        " turned, moved and its thermal clock shifted",
        description="Transfer the true RGB labels of a synthetic session into thermal (as"
        " autolabel does) with the true rig and with the rig perturbed: each camera turned"
        " 0.1-5 degrees about each of its axes, the thermal camera moved 2-10 mm along each,"
        " the thermal timestamps late by 5-66 ms. Each is scored against the thermal truth"
        " (mean IoU over the labeled classes, as evaluate; boundary error in px). The"
        " session is only read.",
    )
    c.add_argument("session", metavar="SESSION.h5", type=Path, help="a synthetic session")
    c.add_argument(
        "--frames", type=whole("frames", minimum=1), default=20, help="thermal frames to sample"
    )
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.add_argument("--report", metavar="OUT.md", type=Path, help="write a Markdown report")
    c.add_argument("--plot", metavar="OUT.png", type=Path, help="write IoU against error as PNG")
    c.add_argument("--overwrite", action="store_true", help="replace the report or plot")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    c.set_defaults(func=run_calibration_sensitivity)
    register_training(exp)


def run_calibration_sensitivity(args: argparse.Namespace) -> int:
    outputs = []
    if args.report:
        outputs.append(file_output("--report", args.report, (".md",)))
    if args.plot:
        outputs.append(file_output("--plot", args.plot, (".png",)))
    check_outputs(outputs, [args.session], overwrite=args.overwrite)
    with ExitStack() as stack:
        progress = lazy_progress(stack, "perturbations x frames", quiet=args.quiet)
        result = calibration_sensitivity(args.session, frames=args.frames, progress=progress)
    if args.plot:
        write_plot(args.plot, result)
    if args.report:
        plot = os.path.relpath(args.plot, args.report.parent) if args.plot else None
        write_text(args.report, markdown(result, plot))
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_table(result))
    return 0


#: Training experiments (models/training/experiments; torch, the train extra), with
#: their help. Imported only when run, so --help works without torch.
TRAINING = {
    "thermocyclenet": "the ThermoCycleNet table: a small UNet trained on manual labels only"
    " (M), auto labels only (S), and auto then fine-tuned on 5-100 %% of the manual labels"
    " (S+N); cross-subject, plus the treadmill-to-cycling domain shift",
    "spmkd": "self-supervised keypoints (SPMKD): median error to the true knees and ankles"
    " after a linear map, with CRWT, without, and untrained",
    "latent": "a CUTS-style per-pixel latent encoder trained without labels, then a light"
    " decoder from a few labeled frames; grayscale and colour-mapped input",
}


def register_training(exp: argparse._SubParsersAction) -> None:
    for name, text in TRAINING.items():
        e = exp.add_parser(
            name,
            help=text,
            description=text.replace("%%", "%") + ". Needs the train extra (torch); writes"
            f" {name}.json, {name}.md, plots and the trained packages into --out. See"
            f" docs/experiments/{name}.md.",
        )
        e.add_argument("--study", type=Path, required=True, metavar="DIR", help="a study folder")
        e.add_argument("--out", type=Path, required=True, metavar="DIR", help="report folder")
        e.add_argument("--quick", action="store_true", help="smoke run: minutes, not figures")
        e.add_argument(
            "--test-subjects",
            type=whole("subjects", minimum=1),
            default=2,
            metavar="K",
            help="hold out the study's last K subjects (default 2)",
        )
        e.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
        e.add_argument("--seed", type=int, default=0)
        e.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "latent":
            e.add_argument(
                "--labeled-frames",
                type=whole("frames", minimum=1),
                default=52,
                metavar="N",
                help="labeled frames for the decoder (default 52, the paper's most)",
            )
        if name == "thermocyclenet":
            e.add_argument(
                "--rig",
                metavar="RIG.json|truth",
                help="rig to auto-label a synthetic study with: the one `thermorig calibrate`"
                " made from a calibration session of the same rig ('truth': the true rig, for"
                " tests; default: the rig recorded with each session)",
            )
            e.add_argument(
                "--rgb-labels",
                default="simulated",
                metavar="SPEC",
                help="RGB labels autolabel carries into thermal (default simulated: the"
                " simulated RGB annotator, not the truth; as thermorig autolabel)",
            )
            e.add_argument(
                "--force",
                action="store_true",
                help="auto-label without the rig check (as thermorig autolabel --force)",
            )
            e.add_argument(
                "--auto-labels",
                type=Path,
                metavar="DIR",
                help="folder of a synthetic study's auto labels (default OUT/labels); label"
                " files an earlier run left there are reused, never replaced",
            )
        e.set_defaults(func=run_training)


def run_training(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        raise ThermorigError(
            f"thermorig experiment {args.experiment} needs torch: install the train extra"
            " (bash scripts/install train)"
        )
    from models.training.experiments.common import (
        ExperimentRequest,
        check_device,
        publish_report,
        report_paths,
        study_split,
    )

    req = ExperimentRequest(
        study=args.study,
        out=args.out,
        quick=args.quick,
        seed=args.seed,
        device=args.device,
        test_subjects=args.test_subjects,
        labeled_frames=getattr(args, "labeled_frames", 52),
    )
    check_device(req.device)
    report_paths(req, args.experiment)  # refuse before training, not after
    study_split(req)  # a missing study or an impossible split: one line, now
    module = importlib.import_module(f"models.training.experiments.{args.experiment}")

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    if args.experiment == "thermocyclenet":  # its auto labels are made by the app
        from app.study.autolabel_study import prepare_thermocyclenet

        req = prepare_thermocyclenet(
            req, args.auto_labels, args.rig, args.rgb_labels, args.force, log
        )
    result, markdown = module.run(req, log)
    js, md = publish_report(req, result, markdown)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(markdown)
        print(f"wrote {md} and {js.name}")
    return 0
