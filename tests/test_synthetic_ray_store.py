"""The synthetic cameras' rays kept in the user cache: read back instead of computed,
and a damaged file is computed again, never used."""

import numpy as np

from drivers.synthetic.ray_store import rays_path, stored_rays


def _make(calls):
    def make():
        calls.append(1)
        return np.full((3, 4, 3), 0.5, np.float32)

    return make


def test_rays_are_computed_once_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls: list[int] = []
    first = stored_rays(("lens", 1), (3, 4, 3), _make(calls))
    again = stored_rays(("lens", 1), (3, 4, 3), _make(calls))
    assert calls == [1] and np.array_equal(first, again)
    assert rays_path(("lens", 1)).is_relative_to(tmp_path / "thermorig")
    other = stored_rays(("lens", 2), (3, 4, 3), _make(calls))  # another lens: its own file
    assert calls == [1, 1] and np.array_equal(other, first)


def test_a_damaged_or_mismatched_cache_file_is_computed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls: list[int] = []
    stored_rays(("lens",), (3, 4, 3), _make(calls))
    path = rays_path(("lens",))
    path.write_bytes(b"not numpy")
    assert stored_rays(("lens",), (3, 4, 3), _make(calls)).shape == (3, 4, 3)
    np.save(path, np.zeros((2, 2, 3), np.float32))  # the wrong shape for this key
    assert stored_rays(("lens",), (3, 4, 3), _make(calls)).shape == (3, 4, 3)
    assert calls == [1, 1, 1]
    assert np.load(path).shape == (3, 4, 3)  # and the good rays are kept again


def test_an_unwritable_cache_folder_only_costs_time(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    calls: list[int] = []
    assert stored_rays(("lens",), (3, 4, 3), _make(calls)).dtype == np.float32
    assert stored_rays(("lens",), (3, 4, 3), _make(calls)).dtype == np.float32
    assert calls == [1, 1] and blocked.read_text().startswith("a file")
