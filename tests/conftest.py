"""Shared test setup: Qt runs offscreen (no display needed) and is styled like the app.

``QT_QPA_PLATFORM`` must be set before Qt is first imported, hence here, at the top
of the first module pytest loads. A platform set by the person running the tests
(e.g. ``xcb`` to watch) is kept.
"""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def qapp(qapp_args):
    """pytest-qt's application fixture, replaced by thermorig's own QApplication."""
    from app.ui.app import make_app

    return make_app(qapp_args)


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """An empty user model folder, never the real one (the platform data directory)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "data" / "thermorig" / "models"
    folder.mkdir(parents=True)
    return folder
