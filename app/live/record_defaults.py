"""What the window proposes for a recording before the person types anything.

The activity is written into the session and starts its automatic file name, so a
wrong default is a mislabelled recording (a calibration recorded as ``cycling-…``).
The source knows best when it says (a synthetic scene, a replayed session); a live
camera says ``other``, and then the person's last choice stands.
"""

from __future__ import annotations

import time

from drivers.session import ACTIVITIES

#: What a source says when it does not know what is being recorded.
UNKNOWN_ACTIVITY = "other"


def recording_activity(source_activity: str | None, chosen: str) -> str:
    """The activity to propose: the source's own when it knows one, else ``chosen``."""
    if source_activity in ACTIVITIES and source_activity != UNKNOWN_ACTIVITY:
        return str(source_activity)
    return chosen if chosen in ACTIVITIES else UNKNOWN_ACTIVITY


def default_name(activity: str, subject: str, stamp: str | None = None) -> str:
    """``activity-subject-YYYYmmdd-HHMMSS.h5``, the time now unless ``stamp`` is given
    (no subject: left out; spaces in it become ``_`` so that the name needs no quoting
    in a shell)."""
    stamp = time.strftime("%Y%m%d-%H%M%S") if stamp is None else stamp
    parts = [activity.strip(), subject.strip().replace(" ", "_"), stamp]
    return "-".join(p for p in parts if p) + ".h5"
