"""Targetless rig check: does the rig still align the session's streams?

:func:`check_alignment` (session + rig → :class:`AlignmentResult`: ok, rotation error,
clock offsets, a refined rig); :func:`rotate_camera` turns one camera of a rig (the
correction it reports, or a perturbation for tests and experiments).
"""

from calibration.alignment.check import AlignmentResult, check_alignment, rotate_camera

__all__ = ["AlignmentResult", "check_alignment", "rotate_camera"]
