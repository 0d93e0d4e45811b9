"""Benchmark: a live recording on a busy machine (two CPU-bound processes running).

The figure is the share of frames lost — dropped at the writer's queue plus lost at
the source (the synthetic rig starved of CPU skips frames as a camera's full buffer
would) — in a live 30 fps three-stream synthetic recording. The peer is the writer as
it was before it adapted: every frame compressed, a fixed 256 MiB queue. The two
burner processes are this benchmark's own and are always ended.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from app.bench import Result, benchmark

#: A CPU-bound process: what "the machine is busy" means here.
_BURNER = "while True: pass"


@dataclass
class _LoadRun:
    kept: int
    dropped: int
    source_lost: int
    stored_raw: int
    megabytes: float

    @property
    def lost_percent(self) -> float:
        total = self.kept + self.dropped + self.source_lost
        return 100.0 * (self.dropped + self.source_lost) / max(total, 1)


def _record_under_load(seconds: float, adaptive: bool, queue_bytes: int | None) -> _LoadRun:
    from drivers.recorder import record
    from drivers.synthetic import open_synthetic

    driver = open_synthetic("cycling", seed=0)
    driver.open()
    driver.prewarm()  # as `thermorig record` does: the cycle is rendered before recording
    burners = [subprocess.Popen([sys.executable, "-c", _BURNER]) for _ in range(2)]
    try:
        time.sleep(0.5)  # the burners are running before the first frame
        with tempfile.TemporaryDirectory() as tmp:
            summary = record(
                driver,
                Path(tmp) / "busy.h5",
                seconds=seconds,
                adaptive=adaptive,
                queue_bytes=queue_bytes,
            )
    finally:
        for p in burners:
            p.kill()
            p.wait()
        driver.close()
    return _LoadRun(
        kept=sum(summary.frames.values()),
        dropped=sum(summary.dropped.values()),
        source_lost=sum(summary.source_dropped.values()),
        stored_raw=sum(summary.stored_raw.values()),
        megabytes=summary.bytes / 1e6,
    )


@benchmark("recording-load")
def bench_recording_load(quick: bool) -> list[Result]:
    """Frames lost by a live synthetic recording while two CPU-bound processes run."""
    seconds = 4.0 if quick else 10.0
    ours = _record_under_load(seconds, adaptive=True, queue_bytes=None)
    peer = _record_under_load(seconds, adaptive=False, queue_bytes=256 * 2**20)
    return [
        Result(
            "recording-load",
            f"frames lost, {seconds:g} s live synthetic, 2 CPU-bound processes",
            ours.lost_percent,
            "% lost",
            peer="always compressed, 256 MiB queue",
            peer_value=peer.lost_percent,
            note=(
                f"queue/source: {ours.dropped}/{ours.source_lost} of"
                f" {ours.kept + ours.dropped + ours.source_lost} (peer"
                f" {peer.dropped}/{peer.source_lost}); {ours.stored_raw} stored"
                f" uncompressed; {ours.megabytes:.0f} MB (peer {peer.megabytes:.0f} MB)"
            ),
        )
    ]
