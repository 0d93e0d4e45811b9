"""Making the labels a review needs when a session has none yet (GUI-free).

A session without ``SESSION.labels.h5`` used to open in review all unlabeled, with no
word why: a person then painted every frame by hand without knowing that a machine
could have labeled it first. :func:`label_makers` lists what can make them here —
auto-labeling by projection (needs depth, RGB and a rig) and inference with the
bundled thermal segmenter — each with the reason it cannot run when it cannot, so the
window can offer them (greyed out, with that reason) before opening.

The work is :func:`app.labels.autolabel.autolabel` and :func:`app.labels.infer.infer`,
the same functions ``thermorig autolabel`` and ``thermorig infer`` call, writing
``SESSION.labels.h5``; the ``progress(done, total)`` callback may raise to stop them
between two frames (the label writer then leaves no file behind).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.labels.sidecar import default_labels_path
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from models.catalog import BUNDLED_SEGMENTER, model_dirs
from models.package import package_paths

Progress = Callable[[int, int], None]
#: The RGB labeler autolabel runs on a real (not synthetic) session.
RGB_LABELER = "model:mediapipe-pose"


@dataclass(frozen=True)
class LabelMaker:
    """One way to make the labels: ``problem`` is "" when it can run on this session."""

    key: str
    title: str
    detail: str
    problem: str
    session: Path
    spec: str = ""  # autolabel: the rig spec ("" = recorded); infer: the model

    @property
    def out(self) -> Path:
        return default_labels_path(self.session)

    def run(self, progress: Progress | None = None) -> str:
        """Make ``SESSION.labels.h5``; one line saying what was written."""
        if self.problem:
            raise ThermorigError(f"cannot {self.key}: {self.problem}")
        if self.key == "autolabel":
            from app.labels.autolabel import autolabel

            with SessionReader(self.session) as s:
                rgb = "truth" if s.truth else RGB_LABELER
            d = autolabel(self.session, self.out, self.spec or None, rgb, progress=progress)
            d = d.to_dict()
            return f"autolabel wrote {self.out.name}: {d['labeled']}/{d['frames']} frames labeled"
        from app.labels.infer import infer

        s = infer(self.session, [self.spec], self.out, stream="thermal", progress=progress)
        return f"infer wrote {self.out.name}: {s['written']}/{s['frames']} frames labeled"


def _bundled_model(name: str) -> bool:
    for _origin, folder in model_dirs():
        onnx_path, _ = package_paths(folder / name)
        if onnx_path.is_file():
            return True
    return False


def label_makers(session: str | os.PathLike) -> list[LabelMaker]:
    """Autolabel and infer for ``session``, each with why it cannot run (or "")."""
    session = Path(session)
    with SessionReader(session) as s:
        missing = [n for n in ("thermal", "depth", "color") if n not in s.streams]
        synthetic, recorded = bool(s.truth), bool(s.rig)
        rig = "truth" if synthetic and (s.truth or {}).get("rig") else ""
        if missing:
            problem = f"the session has no {' or '.join(missing)} stream"
        elif not recorded and not rig:
            problem = "the session has no rig; calibrate one and run thermorig autolabel --rig"
        else:
            problem = ""
        has_thermal = "thermal" in s.streams
    rgb = "the synthetic truth" if synthetic else "the MediaPipe pose labeler"
    auto = LabelMaker(
        "autolabel",
        "Autolabel (projection)",
        f"carry RGB labels ({rgb}) into every thermal frame through depth and the rig",
        problem,
        session,
        "" if recorded else rig,
    )
    if not has_thermal:
        why = "the session has no thermal stream"
    elif not _bundled_model(BUNDLED_SEGMENTER):
        why = f"the model {BUNDLED_SEGMENTER} is not installed (see thermorig models)"
    else:
        why = ""
    model = LabelMaker(
        "infer",
        "Infer (model)",
        f"run the thermal segmenter {BUNDLED_SEGMENTER} over every thermal frame",
        why,
        session,
        BUNDLED_SEGMENTER,
    )
    return [auto, model]
