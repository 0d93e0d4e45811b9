"""tests.real_data.unavailable: missing real data skips a test locally and fails it in CI."""

from __future__ import annotations

import pytest

from tests import real_data


@pytest.mark.parametrize("value", ["true", "TRUE", "1"])
def test_under_ci_missing_data_fails_with_the_reason(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="photos not found in /x") as info:
        real_data.unavailable("photos not found in /x")
    assert "CI=true" in str(info.value)
    assert not info.value.pytrace, "the reason alone, not a traceback of the helper"


@pytest.mark.parametrize("value", [None, "", "false", "0"])
def test_outside_ci_missing_data_skips_with_the_reason(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="photos not found in /x"):
        real_data.unavailable("photos not found in /x")


def test_require_names_the_missing_path_and_returns_a_present_one(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=str(tmp_path / "absent")):
        real_data.require(tmp_path / "absent")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match=str(tmp_path / "absent")):
        real_data.require(tmp_path / "absent")
    assert real_data.require(tmp_path) == tmp_path


def test_a_module_that_cannot_be_imported_leaves_the_whole_module_out(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz cannot be imported") as s:
        real_data.import_or_unavailable("no_such_module_xyz", "a dependency")
    assert s.value.allow_module_level, "called at import time, it must be allowed there"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no_such_module_xyz cannot be imported"):
        real_data.import_or_unavailable("no_such_module_xyz", "a dependency")
    assert real_data.import_or_unavailable("json", "stdlib").dumps([1]) == "[1]"
