"""The live preview without Qt: the live controller (source, capture worker, overlay
stages, frame pacing, rig in force, recording) that the main window and the
calibration wizard talk to, the pieces it is made of, and the calibration wizard's
threads."""
