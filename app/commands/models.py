"""``thermorig models [--json]``: the model packages thermorig can run, and where.

Every package is loaded (that is what proves it runs); a broken one is reported in one
line beside the good ones, and the command then exits 2 so scripts notice.
"""

from __future__ import annotations

import argparse
import json
import sys

from models.catalog import CatalogEntry, list_models, user_models_dir
from models.package import ModelPackage


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the bundled and your own model packages (task, input, figures)",
        description="List the model packages (NAME.onnx + NAME.json) bundled with thermorig"
        f" and in your model folder ({user_models_dir()}), each loaded and checked.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def _input(pkg: ModelPackage) -> str:
    i = pkg.manifest.input
    text = f"{i.stream} {i.width}x{i.height} {i.representation}"
    if i.representation in ("grayscale", "heatmap"):
        text += f" {i.window_c[0]:g}-{i.window_c[1]:g}°C"
    return text


def _figures(pkg: ModelPackage) -> str:
    figs = pkg.manifest.figures
    return (
        ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in figs.items())
        or "-"
    )


def _row(e: CatalogEntry) -> dict:
    d: dict = {"name": e.name, "origin": e.origin, "path": str(e.path), "shadowed": e.shadowed}
    if e.package is None:
        d["error"] = e.error
        return d
    pkg = e.package
    d.update(
        {
            "task": pkg.task,
            "input": pkg.manifest.input.to_dict(),
            "output": pkg.manifest.output.to_dict(),
            "keypoints" if pkg.task == "keypoints" else "classes": list(pkg.names),
            "figures": pkg.manifest.figures,
            "bytes": pkg.size_bytes,
            "description": pkg.manifest.description,
        }
    )
    return d


def run(args: argparse.Namespace) -> int:
    entries = list_models()
    broken = [e for e in entries if e.package is None]
    if args.json:
        print(
            json.dumps(
                {"user_folder": str(user_models_dir()), "models": [_row(e) for e in entries]},
                indent=2,
            )
        )
    else:
        rows = [("name", "task", "input", "figures", "path")]
        for e in entries:
            if e.package is None:
                continue
            name = e.name + (" (hidden by user model)" if e.shadowed else "")
            rows.append((name, e.package.task, _input(e.package), _figures(e.package), str(e.path)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
        if len(rows) == 1:
            print("(no model packages found)")
        print(f"your models: {user_models_dir()} (put NAME.onnx with NAME.json there)")
    if broken:  # one line, like every error
        what = "; ".join(f"{e.origin} model {e.name}: {e.error}" for e in broken)
        print(f"thermorig: error: {len(broken)} broken model package(s): {what}", file=sys.stderr)
    return 2 if broken else 0
