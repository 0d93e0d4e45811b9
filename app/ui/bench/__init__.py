"""The Qt side of ``thermorig bench``'s preview and review benchmarks (offscreen windows)."""
