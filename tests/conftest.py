"""Shared test setup: Qt runs offscreen (no display needed) and is styled like the app.

``QT_QPA_PLATFORM`` must be set before Qt is first imported, hence here, at the top
of the first module pytest loads. A platform set by the person running the tests
(e.g. ``xcb`` to watch) is kept.
"""

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The user cache folder (drivers.user_dirs) of this run only: tests never read what an
# earlier run, or the person running them, left there.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="thermorig-test-cache-")


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


@pytest.fixture(scope="session")
def photo_wheel() -> Path:
    """The wheel holding real photos (``bus.jpg``, ``zidane.jpg``; read them with
    ``models.convert.mediapipe_parity.read_photo``), fetched at install time
    (``scripts/install test``), never during the tests. Missing, the tests that need
    it are skipped, or failed under ``CI=true`` (:func:`tests.real_data.unavailable`)."""
    from models.convert.mediapipe_parity import PHOTO_WHEEL
    from tests.real_data import unavailable

    cache = Path(
        os.environ.get("THERMORIG_TEST_WHEELS")
        or Path(__file__).resolve().parents[1] / ".cache" / "test-wheels"
    )
    found = sorted(cache.glob("ultralytics-8.4.190-*.whl"))
    if not found:
        unavailable(
            f"real photos not found in {cache}: run `bash scripts/install test`, which "
            f"downloads {PHOTO_WHEEL} (no dependencies) from PyPI for these tests"
        )
    return found[0]
