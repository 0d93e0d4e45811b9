"""The review window: the thermal canvas, the RGB side, timeline, help and curves."""
