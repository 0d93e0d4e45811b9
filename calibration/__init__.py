"""Board detection, intrinsics, stereo extrinsics, the rig model and its file, and
depth-aware projection between cameras. Knows nothing of the GUI."""

from drivers.kernel_target import prefer_wide_vectors

prefer_wide_vectors()
