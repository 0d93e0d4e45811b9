"""The picture in docs/simulated-annotator.md: true RGB masks against the simulated
annotator's, on a synthetic session, so a reader sees what "strength" means.

Each panel is one frame's RGB image cropped to the calves, the true outline in white and
the simulated one in the class's colour (left calf orange, right calf cyan), with the
errors the annotator made in that frame written underneath. A figure for the docs, not
a test.

    .venv/bin/thermorig simulate cycling.h5 --seconds 10
    .venv/bin/python scripts/simulated_annotator_figure.py cycling.h5 docs/simulated-annotator.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from app.labels.sources import SimulatedLabels
from drivers.atomic import atomic_write
from drivers.session import SessionReader

COLOURS = {1: (255, 150, 0), 2: (0, 220, 255)}  # RGB


def _outline(image: np.ndarray, mask: np.ndarray, cls: int, colour: tuple, width: int) -> None:
    contours, _ = cv2.findContours(
        (mask == cls).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    cv2.drawContours(image, contours, -1, colour, width)


def panel(session: SessionReader, source: SimulatedLabels, i: int, box: tuple) -> np.ndarray:
    """Frame ``i`` cropped to ``box`` (y0, y1, x0, x1) with both outlines and a caption."""
    y0, y1, x0, x1 = box
    image = np.ascontiguousarray(session.frame("color", i).array)
    truth = session.frame("color", i).truth["labels"]
    sim = source.labels(i)
    for cls in (1, 2):
        _outline(image, truth, cls, (255, 255, 255), 3)
        if sim is not None:
            _outline(image, sim, cls, COLOURS[cls], 2)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    e = source.annotator.errors(i)
    words = [f"frame {i}"]
    if sim is None:
        words.append("missed")
    words += [f"lag {e.lag}"] if e.lag else []
    words += ["L/R swap"] if e.swapped else []
    words += [f"occlusion ({e.occlusion})"] if e.occlusion else []
    caption = np.full((34, crop.shape[1], 3), 255, np.uint8)
    cv2.putText(caption, ", ".join(words), (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1)
    return np.vstack([crop, caption])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("session")
    parser.add_argument("out", help="image to write (.jpg keeps the docs small, or .png)")
    parser.add_argument("--scale", type=float, default=0.7, help="image scale (default 0.7)")
    parser.add_argument("--strengths", default="0.5,1", help="one row per strength")
    parser.add_argument("--frames", default="", help="frame indices (default: 4 spread out)")
    args = parser.parse_args()
    with SessionReader(args.session) as s:
        n = s.count("color")
        frames = [int(f) for f in args.frames.split(",")] if args.frames else []
        rows = []
        for strength in args.strengths.split(","):
            source = SimulatedLabels(strength, s, "color")
            if not frames:  # spread out, preferring frames that show a run's error
                hits = [i for i in range(n) if source.annotator.errors(i).occlusion]
                swaps = [i for i in range(n) if source.annotator.errors(i).swapped]
                frames = sorted({n // 5, *hits[:1], *swaps[:1], 3 * n // 5})[:4]
            masks = [s.frame("color", i).truth["labels"] for i in frames]
            ys, xs = np.nonzero(np.any(np.stack(masks) > 0, axis=0))
            box = (max(ys.min() - 30, 0), ys.max() + 30, max(xs.min() - 30, 0), xs.max() + 30)
            tiles = [panel(s, source, i, box) for i in frames]
            title = np.full((40, sum(t.shape[1] for t in tiles), 3), 255, np.uint8)
            text = f"strength {strength}: white = truth, colour = simulated annotator"
            cv2.putText(title, text, (6, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.75, 0, 2)
            rows.append(np.vstack([title, np.hstack(tiles)]))
        width = max(r.shape[1] for r in rows)
        rows = [
            np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows
        ]
        image = cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR)
        image = cv2.resize(image, None, fx=args.scale, fy=args.scale, interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(Path(args.out).suffix, image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise SystemExit(f"cannot write {args.out}: give a .jpg or .png name")
        with atomic_write(args.out, "wb") as f:
            f.write(data.tobytes())
        print(f"wrote {args.out}: frames {frames}")


if __name__ == "__main__":
    main()
