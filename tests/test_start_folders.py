"""Where a file dialog starts (app.live.start_folders): the first folder in use."""

from __future__ import annotations

from pathlib import Path

from app.live.start_folders import start_folder


def test_the_first_existing_candidate_wins_and_a_file_gives_its_folder(tmp_path):
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    session = sessions / "a.h5"
    session.write_bytes(b"")
    assert start_folder(None, "", tmp_path / "gone", session, tmp_path) == sessions
    assert start_folder(sessions, tmp_path) == sessions


def test_a_folder_not_made_yet_starts_at_its_nearest_existing_parent(tmp_path):
    assert start_folder(tmp_path / "new" / "deeper", tmp_path / "also-gone") == tmp_path


def test_home_when_nothing_is_known(tmp_path):
    assert start_folder() == Path.home()
    assert start_folder(None, "") == Path.home()
    assert start_folder("/no-such-root-folder-xyz/sub") == Path.home(), "never the root"
