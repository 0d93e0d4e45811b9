"""The recording's alert level and its one line (app.live.rec_watch), without a window."""

from __future__ import annotations

from pathlib import Path

from app.live.rec_watch import (
    LOSS_ALARM,
    QUEUE_ALARM,
    QUEUE_WARN,
    RECENT_S,
    Level,
    RecordingWatch,
    elapsed_text,
)
from drivers.recording import RecordingStatus
from drivers.types import StreamHealth

STREAMS = ("thermal", "depth", "color")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _status(frames: int, dropped: int = 0, **kw) -> RecordingStatus:
    """``frames`` written per stream, ``dropped`` all in the colour stream."""
    return RecordingStatus(
        path=Path("x.h5"),
        state=kw.pop("state", "recording"),
        frames=dict.fromkeys(STREAMS, frames),
        dropped={"thermal": 0, "depth": 0, "color": dropped},
        seconds=frames / 30.0,
        **kw,
    )


def _health(drops: int = 0, fps: float = 30.0) -> dict[str, StreamHealth]:
    return {n: StreamHealth(drops=drops if n == "thermal" else 0, fps=fps) for n in STREAMS}


def test_elapsed_time_reads_as_a_clock():
    assert elapsed_text(0.0) == "00:00"
    assert elapsed_text(59.99) == "00:59"
    assert elapsed_text(83.4) == "01:23"
    assert elapsed_text(3599.0) == "59:59"
    assert elapsed_text(3600.0 + 62.0) == "1:01:02"
    assert elapsed_text(-1.0) == "00:00"


def test_a_recording_that_keeps_up_is_ok_with_no_text():
    watch = RecordingWatch(Clock())
    watch.start(_health())
    alert = watch.update(_status(300, queue_fill=0.1), _health())
    assert alert.level is Level.OK and alert.text == ""


def test_frames_dropped_now_are_an_alarm_with_the_count_and_the_rate():
    clock = Clock()
    watch = RecordingWatch(clock)
    watch.start(_health())
    watch.update(_status(300), _health())
    clock.t += 2.0
    # The case from the lab: 590 frames lost, the colour stream at 18.5 fps.
    health = _health(fps=30.0)
    health["color"].fps = 18.5
    alert = watch.update(_status(360, dropped=590), health)
    assert alert.level is Level.ALARM
    assert alert.text.startswith("dropping frames: 590 lost, 18.5 fps — close other programs")


def test_a_trickle_of_lost_frames_is_amber_and_losses_that_stopped_stay_amber():
    clock = Clock()
    watch = RecordingWatch(clock)
    watch.start(_health())
    for i in range(1, 11):  # 10 s at 90 frames/s, nothing lost
        clock.t += 1.0
        watch.update(_status(30 * i), _health())
    due_recent = 90 * RECENT_S
    few = max(1, int(0.2 * LOSS_ALARM * due_recent))  # a fifth of the alarm's share
    clock.t += 1.0
    alert = watch.update(_status(330, dropped=few), _health())
    assert alert.level is Level.WARN and alert.text.startswith(f"dropping frames: {few} lost")
    clock.t += RECENT_S + 1.0  # nothing more lost since
    alert = watch.update(_status(330 + 30 * 6, dropped=few), _health())
    assert alert.level is Level.WARN
    assert alert.text == f"{few} frames lost earlier · none in the last {RECENT_S:.0f} s"
    behind = watch.update(_status(330 + 30 * 7, dropped=few, behind=True), _health())
    assert behind.level is Level.WARN
    assert behind.text.startswith(f"{few} frames lost earlier · writer behind: storing")


def test_frames_lost_at_the_source_count_only_from_the_start_of_the_recording():
    clock = Clock()
    watch = RecordingWatch(clock)
    watch.start(_health(drops=40))  # lost before Record: not this recording's
    alert = watch.update(_status(300), _health(drops=40))
    assert alert.level is Level.OK
    clock.t += 1.0
    alert = watch.update(_status(330), _health(drops=140))  # 100 of 1090: 9 %
    assert alert.level is Level.ALARM and "100 lost" in alert.text


def test_a_filling_queue_turns_amber_then_red_unless_the_source_can_wait():
    watch = RecordingWatch(Clock())
    watch.start(_health())
    low = (QUEUE_WARN + QUEUE_ALARM) / 2
    assert watch.update(_status(30, queue_fill=QUEUE_WARN / 2), _health()).level is Level.OK
    warn = watch.update(_status(60, queue_fill=low), _health())
    assert warn.level is Level.WARN and f"queue {100 * low:.0f} % full" in warn.text
    alarm = watch.update(_status(90, queue_fill=0.97), _health())
    assert alarm.level is Level.ALARM and "frames will be dropped" in alarm.text
    waits = watch.update(_status(120, queue_fill=1.0, lossless=True), _health())
    assert waits.level is Level.OK, "a file source waits for the writer: nothing is lost"


def test_a_writer_behind_is_amber_and_a_failed_recording_red():
    watch = RecordingWatch(Clock())
    watch.start(_health())
    behind = watch.update(_status(30, behind=True, queue_fill=0.01), _health())
    assert behind.level is Level.WARN and behind.text.startswith("writer behind: storing")
    failed = watch.update(_status(30, state="failed", error="disk full"), _health())
    assert failed.level is Level.ALARM and failed.text == "recording failed: disk full"


def test_without_figures_at_the_start_losses_count_from_the_first_figures_seen():
    clock = Clock()
    watch = RecordingWatch(clock)
    watch.start(None)  # Record pressed before the source's first figures
    assert watch.update(_status(30), _health(drops=12)).level is Level.OK
    clock.t += 1.0
    alert = watch.update(_status(60), _health(drops=40))
    assert alert.level is Level.ALARM and "28 lost" in alert.text
