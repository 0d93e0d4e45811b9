"""The capture worker: the one thread that owns a source while the preview runs.

It opens the driver (opening may take seconds: a camera, the synthetic world), reads
frames, tees them to a recording when one is running, groups them into FrameSets and
publishes only the newest set (:class:`~app.live.stages.LatestSlot`) plus any sinks such
as the overlay stages. Nothing it does waits for the GUI; the GUI polls ``latest``,
``stats`` and ``events``. Every request (replay control, recording) is a command the
worker runs between two reads, since drivers are not thread-safe.

Recording comes first: while the recording's writer is behind (a busy machine), the
preview gets at most :data:`PREVIEW_FPS_WHILE_BEHIND` sets a second, so drawing and
overlays leave the CPU to capture and writer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.live.events import (
    CaptureStats,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    ReplayInfo,
    SourceEnded,
    SourceFailed,
    SourceOpened,
    SourceProgress,
)
from app.live.stages import LatestSlot, RateMeter
from drivers.base import Driver
from drivers.errors import EndOfStream, ThermorigError, one_line
from drivers.recording import Recording, RecordingRequest
from drivers.sync import Synchronizer
from drivers.types import Frame, FrameSet

__all__ = [
    "CaptureStats",
    "CaptureWorker",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingStarted",
    "ReplayInfo",
    "SourceEnded",
    "SourceFailed",
    "SourceOpened",
    "SourceProgress",
]


#: FrameSets a second the preview (window and overlay stages) gets while the recording's
#: writer is behind: enough to watch the subject, a fraction of what drawing costs.
PREVIEW_FPS_WHILE_BEHIND = 5.0


class CaptureWorker:
    """Reads a source on its own thread; see the module docstring.

    ``opener`` returns an opened driver (it runs on the worker thread, so a slow
    open never freezes the window). ``sinks`` are called with each new FrameSet on
    the capture thread and must return at once (e.g. ``StageRunner.submit``).
    """

    def __init__(
        self,
        opener: Callable[[], Driver],
        spec: str,
        sinks: tuple[Callable[[FrameSet], None], ...] = (),
        *,
        read_timeout: float = 0.05,
        stats_interval: float = 0.25,
    ):
        self.spec = spec
        self._opener = opener
        self._sinks = tuple(sinks)
        self._read_timeout = read_timeout
        self._stats_interval = stats_interval
        self.latest: LatestSlot[FrameSet] = LatestSlot()
        self.stats: LatestSlot[CaptureStats] = LatestSlot()
        self.events: queue.Queue = queue.Queue()
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self.driver: Driver | None = None
        self.replay: ReplayInfo | None = None
        self._sync: Synchronizer | None = None
        self._tee: Recording | None = None
        self._finishing: list[Recording] = []
        self._playing = True
        self._ended = False
        self._frames_read = 0
        self._sets = 0
        self._set_rate = RateMeter()
        self._last_set: FrameSet | None = None
        self._last_stats = 0.0
        self._last_shown = 0.0
        self.preview_held = 0  # FrameSets kept from the preview while recording was behind

    # -- GUI side ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading, finish any recording (every queued frame written), close."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def play(self) -> None:
        self._commands.put(("play",))

    def pause(self) -> None:
        self._commands.put(("pause",))

    def step(self) -> None:
        self._commands.put(("step",))

    def step_back(self) -> None:
        """Pause and show the FrameSet before the one shown last (a seek: sets are
        grouped forwards only)."""
        self._commands.put(("step_back",))

    def seek(self, row: int) -> None:
        self._commands.put(("seek", int(row)))

    def set_speed(self, speed: float) -> None:
        self._commands.put(("speed", float(speed)))

    def set_loop(self, loop: bool) -> None:
        self._commands.put(("loop", bool(loop)))

    def start_recording(self, request: RecordingRequest) -> None:
        self._commands.put(("record", request))

    def stop_recording(self) -> None:
        self._commands.put(("stop_recording",))

    def mark(self, text: str) -> None:
        self._commands.put(("mark", text))

    # -- capture thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            self.driver = self._opener()
            streams = dict(self.driver.streams)
            self._sync = Synchronizer(streams)
            if hasattr(self.driver, "seek") and hasattr(self.driver, "path"):
                self.replay = ReplayInfo.read(Path(self.driver.path), self._sync.pivot)
        except BaseException as exc:  # noqa: BLE001 - reported, the app keeps running
            self.events.put(SourceFailed(self.spec, one_line(exc, with_type=True)))
            self._close_driver()
            return
        self.events.put(SourceOpened(self.spec, streams, self.driver.info, self.replay))
        try:
            # No prewarm here: frames render on demand from the first read, so a demo
            # moves at once; the cycle is completed before a recording (_prewarm).
            while not self._stop.is_set():
                self._do_commands(block=not self._playing or self._ended)
                if self._playing and not self._ended:
                    self._read_once()
                self._check_recordings()
                self._publish_stats()
        except BaseException as exc:  # noqa: BLE001 - a driver bug must not kill the app
            self.events.put(SourceFailed(self.spec, one_line(exc, with_type=True)))
        finally:
            self._stop_recording(wait=True)
            self._close_driver()

    def _prewarm(self) -> None:
        """Render what a synthetic source loops through, once (a few seconds the first
        time, instant after): a recording then gets every frame at full rate, as the
        preview does not need to wait for it."""
        warm = getattr(self.driver, "prewarm", None)
        if warm is None or not getattr(self.driver, "realtime", False):
            return

        def progress(done: int, total: int) -> None:
            self.events.put(SourceProgress(self.spec, done, total))

        warm(stop=self._stop, progress=progress)

    def _close_driver(self) -> None:
        if self.driver is not None:
            try:
                self.driver.stop()
                self.driver.close()
            except Exception:  # noqa: BLE001 - closing a failed device
                pass

    def _read_once(self) -> None:
        try:
            frame = self.driver.read(timeout=self._read_timeout)
        except EndOfStream:
            self._end()
            return
        except ThermorigError as exc:  # a camera unplugged, a damaged file
            self.events.put(SourceFailed(self.spec, one_line(exc, with_type=True)))
            self._ended = True
            self._stop_recording(wait=False)
            return
        if frame is not None:
            self._take(frame)

    def _take(self, frame: Frame) -> int:
        """Tee, group, publish one frame; returns how many FrameSets it completed."""
        self._frames_read += 1
        if self._tee is not None:
            self._tee.offer(frame)
        sets = self._sync.push(frame)
        for fs in sets:
            self._publish(fs)
        return len(sets)

    def _publish(self, fs: FrameSet) -> None:
        self._sets += 1
        self._set_rate.tick()
        self._last_set = fs
        if self._tee is not None and self._tee.behind:
            now = time.monotonic()
            if now - self._last_shown < 1.0 / PREVIEW_FPS_WHILE_BEHIND:
                self.preview_held += 1
                return
            self._last_shown = now
        self.latest.put(fs)
        for sink in self._sinks:
            sink(fs)

    def _end(self) -> None:
        for fs in self._sync.flush():
            self._publish(fs)
        self._ended = True
        self._playing = False  # a seek after the end shows that frame, paused
        self._stop_recording(wait=False)
        self.events.put(SourceEnded(self.spec))

    # -- commands ---------------------------------------------------------------------
    def _do_commands(self, block: bool) -> None:
        try:
            cmd = self._commands.get(timeout=0.05) if block else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            try:
                self._command(*cmd)
            except ThermorigError as exc:
                what = "recording" if cmd[0] in ("record", "mark") else "source"
                event = RecordingFailed if what == "recording" else SourceFailed
                args = (
                    (one_line(exc, with_type=True),)
                    if what == "recording"
                    else (self.spec, one_line(exc, with_type=True))
                )
                self.events.put(event(*args))
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return

    def _set_playing(self, playing: bool) -> None:
        """Play or pause, published at once, before any frame the command shows: who
        sees that frame (a bookmark taken as the wizard opens) reads the new state."""
        self._playing = playing
        self._last_stats = 0.0
        self._publish_stats()

    def _command(self, name: str, *args: Any) -> None:
        driver = self.driver
        if name == "play":
            if self._ended and self.replay is not None:
                self._seek(0)
            self._set_playing(True)
        elif name == "pause":
            self._set_playing(False)
            driver.stop()  # the next read re-anchors replay pacing: no catch-up burst
        elif name == "step" and self.replay is not None:
            self._set_playing(False)
            self._step()
        elif name == "step_back" and self.replay is not None:
            self._set_playing(False)
            self._seek(self._row() - 1)
            self._step()
        elif name == "seek" and self.replay is not None:
            self._seek(args[0])
            if not self._playing:
                self._step()
        elif name == "speed" and hasattr(driver, "speed"):
            driver.speed = args[0]
            driver.stop()
        elif name == "loop" and hasattr(driver, "loop"):
            driver.loop = args[0]
        elif name == "record":
            self._prewarm()  # a recording starts with every state rendered: no drops
            self._start_recording(args[0])
        elif name == "stop_recording":
            self._stop_recording(wait=False)
        elif name == "mark" and self._tee is not None:
            self._tee.mark(args[0])

    def _seek(self, row: int) -> None:
        """Continue from the replay's pivot frame ``row``. The other streams resume one
        sync tolerance earlier, so the first FrameSet gets the partners recorded just
        before its pivot frame (without that lead a paused seek showed a set with none:
        "0% complete, 2 partners missing", and no projected labels)."""
        row = min(max(int(row), 0), self.replay.count - 1)
        self._sync = Synchronizer(dict(self.driver.streams), pivot=self.replay.pivot)
        self.driver.seek(row, stream=self.replay.pivot, lead=self._sync.tolerance)
        self._ended = False

    def _row(self) -> int:
        """The replay row of the FrameSet published last (0 before any)."""
        fs = self._last_set
        if fs is None or fs.pivot not in fs.frames:
            return 0
        return self.replay.row_of(fs.frames[fs.pivot].index)

    def _step(self) -> None:
        """Advance to the next FrameSet at once, whatever the pacing."""
        limit = 4 * max(len(self.driver.streams), 1) + 4
        for _ in range(limit):
            try:
                frame = self.driver.step()
            except EndOfStream:
                self._end()
                return
            if self._take(frame):
                return

    # -- recording --------------------------------------------------------------------
    def _start_recording(self, request: RecordingRequest) -> None:
        if self._tee is not None:
            raise ThermorigError(f"already recording to {self._tee.path}; stop it first")
        if self._ended and self.replay is None:
            raise ThermorigError(f"{self.spec} delivers no frames; choose another source")
        lossless = not bool(getattr(self.driver, "realtime", True))
        self._tee = Recording(
            request, dict(self.driver.streams), self.driver.info, lossless=lossless
        )
        self.events.put(RecordingStarted(self._tee.path))

    def _stop_recording(self, wait: bool) -> None:
        tee, self._tee = self._tee, None
        if tee is not None:
            tee.collect_gaps(self.driver, final=True)
            tee.finish()
            self._finishing.append(tee)
        if wait:
            for t in self._finishing:
                t.wait()
            self._check_recordings()

    def _check_recordings(self) -> None:
        if self._tee is not None and self._tee.failed:
            self._stop_recording(wait=False)
        for tee in list(self._finishing):
            if tee.done.is_set():
                self._finishing.remove(tee)
                status = tee.status()
                if status.error:
                    self.events.put(RecordingFailed(status.error, status))
                else:
                    self.events.put(RecordingFinished(status))

    # -- stats ------------------------------------------------------------------------
    def _publish_stats(self) -> None:
        now = time.monotonic()
        if now - self._last_stats < self._stats_interval:
            return
        self._last_stats = now
        if self._tee is not None:
            self._tee.collect_gaps(self.driver)
        fs = self._last_set
        stats = CaptureStats(
            health=self.driver.health(),
            sync=self._sync.stats.to_dict(),
            frames_read=self._frames_read,
            sets=self._sets,
            set_rate=self._set_rate.rate,
            offsets_ms={} if fs is None else {n: 1e3 * v for n, v in fs.offsets.items()},
            playing=self._playing and not self._ended,
            ended=self._ended,
            recording=None if self._tee is None else self._tee.status(),
        )
        if self.replay is not None and fs is not None:
            stats.replay_row = self.replay.row_of(fs.frames[fs.pivot].index)
            stats.replay_position = float(self.replay.times[stats.replay_row])
        self.stats.put(stats)
