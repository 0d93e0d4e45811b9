"""Which frames a live recording's writer stores uncompressed, to catch up.

On a busy machine the writer of a live recording can fall behind its source, and
compression is most of its work: for three noisy 30 fps streams (640x512 thermal,
640x480 depth, 1280x720 RGB) blosc2-lz4 costs it about 14 ms of CPU per frame set of
the 33 ms there are, three quarters of it on RGB, which also compresses worst (to
0.76 of raw, against 0.47 for thermal and depth). Storing a frame uncompressed costs
about a tenth (see :mod:`drivers.codecs`). So, from the backlog in the writer's queue:

- level 0 (caught up): every frame compressed;
- level 1 (``behind_at`` items wait): the streams that take at least half of the
  compression time are stored uncompressed (RGB above: a third of the work for a
  quarter more file);
- level 2 (twice that wait): every stream is stored uncompressed;

and back to level 0 once the queue is down to a quarter of ``behind_at``.

A stream whose uncompressed frames do not write faster than its compressed ones (a
slow disk, not the CPU, is the limit) is not stored uncompressed: it would only make
the writer slower. Both are judged by the median of the stream's recent frames, so a
frame that waited for the disk once does not decide, and one frame in :data:`PROBE` of
such a stream is still stored uncompressed while behind, so the judgement can change.
"""

from __future__ import annotations

import statistics
from collections import deque

#: Recent frames per stream (and storage) whose write times are compared.
RECENT = 31
#: While behind, one frame in this many of a stream judged not to gain is still tried.
PROBE = 16


class CatchUp:
    """The writer's catch-up policy; one thread (the writer's) calls it."""

    def __init__(self, behind_at: int):
        self.behind_at = max(1, int(behind_at))
        self.level = 0
        #: stream -> seconds spent compressing its frames, over the whole recording.
        self._packed: dict[str, float] = {}
        #: (stream, stored raw) -> seconds each of the recent frames took to write.
        self._recent: dict[tuple[str, bool], deque[float]] = {}
        self._declined: dict[str, int] = {}

    @property
    def behind(self) -> bool:
        return self.level > 0

    def update(self, backlog: int) -> None:
        """Take the number of items still waiting in the queue into account."""
        if backlog >= 2 * self.behind_at:
            self.level = 2
        elif backlog >= self.behind_at:
            self.level = max(self.level, 1)
        elif backlog <= self.behind_at // 4:
            self.level = 0

    def _typical(self, stream: str, raw: bool) -> float | None:
        recent = self._recent.get((stream, raw))
        return statistics.median(recent) if recent else None

    def _raw_helps(self, stream: str) -> bool:
        raw, packed = self._typical(stream, True), self._typical(stream, False)
        return raw is None or packed is None or raw < packed

    def _costliest(self) -> set[str]:
        """The fewest streams that take at least half of the compression time."""
        ranked = sorted(self._packed.items(), key=lambda kv: kv[1], reverse=True)
        total = sum(self._packed.values())
        chosen: set[str] = set()
        spent = 0.0
        for stream, seconds in ranked:
            if spent >= total / 2 and chosen:
                break
            chosen.add(stream)
            spent += seconds
        return chosen

    def store_raw(self, stream: str) -> bool:
        """Whether the writer should store this stream's next frame uncompressed."""
        if self.level == 0 or (self.level == 1 and stream not in self._costliest()):
            return False
        if self._raw_helps(stream):
            return True
        declined = self._declined[stream] = self._declined.get(stream, 0) + 1
        return declined % PROBE == 0

    def observe(self, stream: str, raw: bool, seconds: float) -> None:
        """A frame of ``stream`` took ``seconds`` to write, stored ``raw`` or not."""
        if not raw:
            self._packed[stream] = self._packed.get(stream, 0.0) + seconds
        recent = self._recent.setdefault((stream, raw), deque(maxlen=RECENT))
        recent.append(seconds)
