"""How fast the synthetic rig renders: the figures behind ``thermorig bench``."""

from __future__ import annotations

import time
from typing import Any

from drivers.errors import EndOfStream
from drivers.synthetic.cache import CACHE


def render_rate(
    scene: str = "cycling",
    seconds: float = 10.0,
    *,
    seed: int = 0,
    cold: bool = True,
    **config: Any,
) -> dict[str, Any]:
    """Render ``seconds`` of ``scene`` as fast as possible and time it.

    ``cold`` empties the shared render cache first, so the figures include rendering
    every phase once (the first cycle) as a fresh process would. Per-FrameSet figures
    add up the mean per-frame time of each stream: ``cold_ms_per_frameset`` over frames
    whose state had to be rendered, ``warm_ms_per_frameset`` over frames served from
    the cache (noise, warming and compositing only).
    """
    from drivers.synthetic.driver import open_synthetic

    if cold:
        CACHE.clear()
    t_open = time.perf_counter()
    drv = open_synthetic(scene, seed=seed, realtime=False, duration=seconds, **config)
    drv.open()
    open_s = time.perf_counter() - t_open
    times: dict[str, dict[bool, list[float]]] = {n: {True: [], False: []} for n in drv.streams}
    t_all = time.perf_counter()
    while True:
        renders = drv.renders
        t0 = time.perf_counter()
        try:
            frame = drv.read()
        except EndOfStream:
            break
        dt = time.perf_counter() - t0
        if frame is not None:
            times[frame.stream][drv.renders > renders].append(dt)
    total_s = time.perf_counter() - t_all
    drv.close()

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else 0.0

    counts = {n: len(v[True]) + len(v[False]) for n, v in times.items()}
    framesets = max(counts.values()) if counts else 0
    return {
        "scene": scene,
        "seconds": seconds,
        "frames": counts,
        "framesets": framesets,
        "open_s": round(open_s, 3),
        "total_s": round(total_s, 3),
        "ms_per_frameset": round(1000 * total_s / max(framesets, 1), 2),
        "cold_ms_per_frameset": round(1000 * sum(mean(v[True]) for v in times.values()), 2),
        "warm_ms_per_frameset": round(1000 * sum(mean(v[False]) for v in times.values()), 2),
        "renders": drv.renders,
        "realtime_factor": round(seconds / total_s, 2) if total_s > 0 else float("inf"),
    }
