"""What numba compiles the kernels for: this CPU, with its widest vectors.

LLVM, tuned for Intel's recent cores, vectorizes with 256-bit registers even where the
CPU has 512-bit ones (AVX-512), since on some of the first such cores the wider ones
lowered the clock. The transfer's kernels are long runs of the same float32 arithmetic
per pixel, and on the cores measured (``thermorig bench --only projection``) the wider
vectors win: the trace of every target pixel 1.69 → 1.28 ms a 1280×720 frame, the
depth projection 0.68 → 0.49 ms at 640×480, the same results bit for bit (no
operation reordered, only more pixels at once). So where the CPU has AVX-512, numba is
told to prefer it (``NUMBA_CPU_FEATURES``: the host's features and
``-prefer-256-bit``), unless the user set numba's target already.

Set in the environment, so that worker processes and the install's ahead-of-time
compile (:mod:`calibration.kernel_cache`) compile for the same target and share numba's
cache, which is keyed by it. It must be set before numba creates its compiler, at the
first kernel compiled or loaded: the ``calibration`` package sets it on import, and a
``drivers`` module with kernels (``drivers.synthetic.board_shading``) before defining
them — whichever comes first in a process.
"""

from __future__ import annotations

import os
import sys

#: The LLVM tuning feature that caps automatic vectors at 256 bits.
PREFER_256 = "prefer-256-bit"


def prefer_wide_vectors() -> bool:
    """Set numba's target to this CPU with 512-bit vectors preferred, where it has
    AVX-512 and numba's target is not set already; whether it was set."""
    if "NUMBA_CPU_FEATURES" in os.environ or "NUMBA_CPU_NAME" in os.environ:
        return False
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features()
        name = llvm.get_host_cpu_name()
    except (ImportError, RuntimeError):  # no numba, or a host LLVM cannot read
        return False
    if not features.get("avx512f", False):
        return False
    os.environ["NUMBA_CPU_NAME"] = name
    os.environ["NUMBA_CPU_FEATURES"] = f"{features.flatten()},-{PREFER_256}"
    numba = sys.modules.get("numba")
    if numba is not None:  # imported already: let its configuration read the change
        numba.core.config.reload_config()
    return True
