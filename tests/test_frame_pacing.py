"""The frame pacer: frames wait (briefly) for the overlay computed from them, overlays
are drawn only on frames near them in time, replay seeks (indices restart) are safe."""

from __future__ import annotations

import numpy as np
import pytest

from app.live.pacing import FramePacer, same_frame
from app.live.stages import Overlay
from drivers.types import FrameSet

PERIOD = 1 / 30


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def fs(index: int, t: float | None = None) -> FrameSet:
    return FrameSet(index, index * PERIOD if t is None else t, "thermal")


def labels_for(frame: FrameSet, name: str = "projected") -> Overlay:
    mask = np.zeros((4, 4), np.uint8)
    return Overlay("thermal", frame.index, labels=mask, rgba=np.zeros((4, 4, 4), np.uint8),
                   note=name, time=frame.timestamp)  # fmt: skip


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pacer(clock) -> FramePacer:
    return FramePacer("projected", max_hold_s=0.1, clock=clock)


def test_a_frame_waits_for_its_overlay_and_is_drawn_with_it(pacer, clock):
    a, b = fs(1), fs(2)
    pacer.offer(a)
    assert pacer.next_frame(None, pacing=True) is None  # its labels are not there yet
    clock.t += 0.012
    pacer.offer(b)
    assert pacer.next_frame(labels_for(a), pacing=True) is a
    drawn = pacer.overlays({"projected": labels_for(a)})
    assert drawn["projected"].rgba is not None and same_frame(drawn["projected"], a)
    clock.t += 0.015
    # b's labels: b is drawn with them; the older overlay never lands on b.
    assert pacer.next_frame(labels_for(b), pacing=True) is b
    assert list(pacer.waits) == pytest.approx([0.012, 0.015])


def test_frames_whose_labels_were_skipped_are_drawn_at_once_in_order(pacer, clock):
    """The stage works latest-wins: labels for frame 3 mean frames 1 and 2 never get
    theirs. They are drawn right away, one per tick, none dropped; frame 2 gets the
    labels of frame 3 (one period away), frame 1 none (two periods)."""
    frames = [fs(i) for i in range(1, 4)]
    for f in frames:
        pacer.offer(f)
    paced = labels_for(frames[2])
    assert pacer.next_frame(None, pacing=True) is None
    assert pacer.next_frame(paced, pacing=True) is frames[0]
    assert pacer.overlays({"projected": paced})["projected"].rgba is None
    assert pacer.next_frame(paced, pacing=True) is frames[1]
    assert pacer.overlays({"projected": paced})["projected"] is paced
    assert pacer.next_frame(paced, pacing=True) is frames[2]
    assert pacer.next_frame(paced, pacing=True) is None  # nothing left


def test_frames_far_behind_are_dropped_the_newest_never(pacer, clock):
    for i in range(1, 4):
        pacer.offer(fs(i))
        clock.t += 0.09
    clock.t += 0.05  # waited 0.32, 0.23 and 0.14 s
    assert pacer.next_frame(None, pacing=True).index == 3
    pacer.offer(fs(4))
    clock.t += 0.5
    assert pacer.next_frame(None, pacing=True).index == 4


def test_a_frame_never_waits_longer_than_the_hold(pacer, clock):
    a = fs(1)
    pacer.offer(a)
    clock.t += 0.099
    assert pacer.next_frame(None, pacing=True) is None
    clock.t += 0.002
    assert pacer.next_frame(None, pacing=True) is a
    # Its labels came too late: not drawn on it (a later frame's labels are not either).
    late = labels_for(fs(5))
    assert pacer.overlays({"projected": late})["projected"].rgba is None


def test_without_the_paced_stage_the_newest_frame_is_drawn_at_once(pacer, clock):
    for i in range(1, 4):
        pacer.offer(fs(i))
    off = Overlay("thermal", 3, note="projected labels off: no rig", time=3 * PERIOD)
    assert pacer.next_frame(off, pacing=False).index == 3


def test_a_seek_restarts_indices_but_old_labels_never_match_or_draw(pacer, clock):
    before = fs(7, t=12.0)  # frameset 7, before the seek
    pacer.offer(before)
    assert pacer.next_frame(labels_for(before), pacing=True) is before
    after = fs(7, t=3.0)  # after seeking back: index 7 again, another instant
    pacer.offer(after)
    stale = labels_for(before)
    assert not same_frame(stale, after)
    assert pacer.next_frame(stale, pacing=True) is None  # it waits for its own labels
    clock.t += 0.2
    assert pacer.next_frame(stale, pacing=True) is after  # ... but not forever
    drawn = pacer.overlays({"projected": stale})["projected"]
    assert drawn.rgba is None and drawn.labels is None
    assert "not drawn: computed 9000 ms from this frame" in drawn.note


def test_overlays_near_the_shown_frame_are_drawn_farther_ones_are_not(pacer, clock):
    for i in range(10):  # the period is learnt from the timestamps
        pacer.offer(fs(i))
    assert pacer.period == pytest.approx(PERIOD)
    shown = pacer.next_frame(None, pacing=False)
    assert shown.index == 9
    one_back, three_back = labels_for(fs(8), "seg"), labels_for(fs(6), "seg")
    note_only = Overlay("thermal", 2, note="model off", time=2 * PERIOD)
    out = pacer.overlays({"a": one_back, "b": three_back, "c": note_only})
    assert out["a"] is one_back  # one frame off: within the tolerance of 1.5 periods
    assert out["b"].rgba is None and out["b"].note.startswith("seg — not drawn: computed 100 ms")
    assert out["c"] is note_only
    # A stage capped at 10/s is expected to be up to 100 ms old: still drawn.
    assert pacer.overlays({"b": three_back}, {"b": 0.1})["b"] is three_back


def test_holding_stops_when_the_stage_falls_behind_and_resumes_when_it_keeps_up(pacer, clock):
    # The stage covers only every third frame: holding would make the display stutter.
    for i in range(30):
        pacer.offer(fs(i))
        paced = labels_for(fs(i)) if i % 3 == 0 else None
        pacer.next_frame(paced, pacing=True)
        clock.t += PERIOD
    assert pacer.coverage < 0.6 and not pacer.holding
    f = fs(30)
    pacer.offer(f)
    assert pacer.next_frame(None, pacing=True) is f  # at once
    for i in range(31, 70):  # every frame covered again
        pacer.offer(fs(i))
        clock.t += 0.01
        pacer.next_frame(labels_for(fs(i)), pacing=True)
        clock.t += PERIOD - 0.01
    assert pacer.coverage > 0.9 and pacer.holding


def test_reset_forgets_the_old_source(pacer):
    pacer.offer(fs(1))
    pacer.next_frame(None, pacing=False)
    pacer.offer(fs(2))
    pacer.reset()
    assert pacer.shown is None and pacer.next_frame(None, pacing=False) is None
