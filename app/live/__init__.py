"""The live preview without Qt: the capture worker that owns a source, the overlay
stages (projected labels, models), frame pacing, recording while previewing, and the
calibration wizard's threads."""
