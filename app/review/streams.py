"""Which stream a review edits: the thermal labels, or the RGB side.

A person labels a few RGB frames by hand (keyframes) where no projection can: a rear
view of legs has no face for a pose model, and `thermorig propagate` carries such
keyframes through the session and autolabel carries them into thermal. The review
window edits either stream with the same tools, journal and undo; this module says
what switching to a stream needs of the files (GUI-free, so the command line can
refuse with the same one line the window shows).
"""

from __future__ import annotations

from app.labels.sidecar import LabelsError
from app.labels.store import LabelStore
from app.review.frames import ReviewFrames

#: The streams a review edits, and what a person reads for each.
TITLES = {"thermal": "thermal", "color": "RGB"}


def other_stream(stream: str) -> str:
    """The stream shown small beside the edited one."""
    return "color" if stream == "thermal" else "thermal"


def open_stream(frames: ReviewFrames, store: LabelStore, stream: str) -> str:
    """Make ``store`` ready to edit ``stream`` of ``frames``' session: a label file
    without that stream gains it, every row unlabeled (painting a row makes it
    ``manual``). One line saying what was added ("" if nothing); LabelsError when the
    session has no such frames or the file's rows do not fit them."""
    if stream not in TITLES:
        raise LabelsError(f"review edits {' or '.join(TITLES)} labels, not '{stream}'")
    title, n = TITLES[stream], frames.count_of(stream)
    if n == 0:
        raise LabelsError(f"{frames.path.name} has no {title} frames to label")
    note = ""
    if stream not in store.streams:
        store.add_stream(stream)
        note = f"{store.path.name} had no {title} labels: added {n} unlabeled rows"
    if store.count(stream) != n:
        raise LabelsError(
            f"{store.path} has {store.count(stream)} {title} rows but the session has {n}"
            f" {title} frames; give the labels of this session"
        )
    return note
