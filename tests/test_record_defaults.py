"""What the window proposes for a recording: the activity and the automatic name."""

from __future__ import annotations

import re

from app.live.record_defaults import default_name, recording_activity


def test_the_source_activity_wins_when_the_source_knows_it():
    assert recording_activity("calibration", "cycling") == "calibration"
    assert recording_activity("treadmill", "cycling") == "treadmill"


def test_a_source_that_does_not_know_keeps_the_persons_choice():
    assert recording_activity("other", "cycling") == "cycling"
    assert recording_activity(None, "treadmill") == "treadmill"
    assert recording_activity("juggling", "calibration") == "calibration"
    assert recording_activity("other", "not an activity") == "other"


def test_the_automatic_name_starts_with_the_activity_recorded():
    assert default_name("calibration", "", "20261203-101500") == "calibration-20261203-101500.h5"
    assert default_name("cycling", " S 07 ", "x") == "cycling-S_07-x.h5"
    assert re.fullmatch(r"treadmill-S1-\d{8}-\d{6}\.h5", default_name("treadmill", "S1"))
