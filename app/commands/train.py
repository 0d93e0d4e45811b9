"""``thermorig train segmenter|keypoints --recipe NAME --study DIR|--sessions GLOB --out
PKG_DIR [--quick] [--device cpu|cuda] [--json]``.

Parses the arguments and calls :func:`models.training.from_labels.train_package`. The
training modules import torch (the optional ``train`` extra), so they are imported
only when the command runs: the rest of thermorig, ``--help`` included, works without
torch, and a missing torch is one line saying which extra to install.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import sys
from pathlib import Path

from app.commands.arguments import whole
from drivers.errors import ThermorigError

TASKS = ("segmenter", "keypoints")
#: Recipe names, kept in step with models.training.recipes.RECIPES by a test (that
#: module imports torch, which --help must not need).
RECIPES = {
    "unet-small": "the bundled models' TinyUNet (16-64 channels, ~145k parameters), 700 steps",
    "unet-tiny": "TinyUNet at half the channels (8-32), 500 steps: for slow machines",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a segmenter or keypoint model from sessions and their labels",
        description="Train a thermal model package from a study or sessions and their label"
        " files (manual rows: accepted, corrected or painted; auto rows: projected or model"
        " labels nobody reviewed; rejected rows never), split by subject: the test subjects'"
        " frames are never trained on, and the package's figures are measured on them."
        " Needs the train extra (torch). See docs/training.md.",
        epilog="recipes: " + "; ".join(f"{k}: {v}" for k, v in RECIPES.items()),
    )
    p.add_argument("task", choices=TASKS, metavar="TASK", help="segmenter or keypoints")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="unet-small")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--study", type=Path, metavar="DIR", help="a study folder (study.json)")
    src.add_argument(
        "--sessions",
        metavar="GLOB",
        help="session files (quote the pattern); each session's subject attribute splits them",
    )
    p.add_argument(
        "--out", type=Path, required=True, metavar="PKG_DIR", help="folder for the package"
    )
    p.add_argument("--name", help="package name (default RECIPE-TASK); an existing one is refused")
    p.add_argument(
        "--labels",
        metavar="PATTERN",
        help="label file of each session, relative to its folder, {stem} = the session's"
        " name (default {stem}.labels.h5 beside it)",
    )
    p.add_argument(
        "--labels-from",
        choices=("manual", "auto", "both"),
        default="both",
        help="which label rows to train on (default both)",
    )
    p.add_argument(
        "--truth",
        action="store_true",
        help="train on the ground truth of sessions without a label file (synthetic sessions)",
    )
    tests = p.add_mutually_exclusive_group()
    tests.add_argument(
        "--test-subjects",
        type=whole("subjects", minimum=1),
        default=1,
        metavar="K",
        help="hold out the last K subjects (default 1)",
    )
    tests.add_argument(
        "--test-subject", action="append", metavar="ID", help="hold out this subject (repeat)"
    )
    p.add_argument("--quick", action="store_true", help="smoke run: a few steps (never ship it)")
    p.add_argument(
        "--steps", type=whole("steps", minimum=1), help="training steps (default: the recipe's)"
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _sessions(pattern: str) -> list[Path]:
    paths = sorted(
        Path(p) for p in glob.glob(pattern, recursive=True) if not p.endswith(".labels.h5")
    )
    if not paths:
        raise ThermorigError(f"--sessions {pattern}: no session files match")
    return paths


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("torch") is None:
        raise ThermorigError(
            "thermorig train needs torch: install the train extra (bash scripts/install train)"
        )
    from models.training.from_labels import TrainRequest, train_package

    req = TrainRequest(
        task=args.task,
        recipe=args.recipe,
        out=args.out,
        name=args.name,
        study=args.study,
        sessions=_sessions(args.sessions) if args.sessions else [],
        labels_pattern=args.labels,
        labels_from=args.labels_from,
        truth=args.truth,
        test_subjects=args.test_subjects,
        test_subject_ids=args.test_subject or [],
        quick=args.quick,
        device=args.device,
        steps=args.steps,
        seed=args.seed,
    )

    def log(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    summary = train_package(req, log)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        figs = ", ".join(f"{k} {v}" for k, v in summary["figures"].items())
        print(f"held out {', '.join(summary['test_subjects'])}: {figs}")
    return 0
