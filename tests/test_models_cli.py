"""``thermorig models``, and the catalog's folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import main
from models.catalog import (
    BUNDLED_DIR,
    BUNDLED_KEYPOINTS,
    BUNDLED_SEGMENTER,
    find_model,
    list_models,
    user_models_dir,
)
from models.errors import ModelError


def test_user_folder_follows_xdg_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert user_models_dir() == tmp_path / "thermorig" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # invalid per XDG: ignored
    assert user_models_dir() == Path.home() / ".local" / "share" / "thermorig" / "models"


def test_models_lists_the_bundled_models_with_figures(user_dir, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in (BUNDLED_SEGMENTER, BUNDLED_KEYPOINTS):
        line = next(ln for ln in out.splitlines() if ln.startswith(name))
        assert "thermal 320x256 grayscale 15-40°C" in line
        assert str(BUNDLED_DIR / f"{name}.onnx") in line
        # Each headline figure of the package's JSON, read here without the app's code.
        figures = json.loads((BUNDLED_DIR / f"{name}.json").read_text())["provenance"]["figures"]
        assert len(figures) >= 2
        assert f"  {', '.join(f'{k} {v}' for k, v in figures.items())}  " in line, line
    assert str(user_dir) in out


def test_models_json(user_dir, capsys):
    assert main(["models", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in d["models"]}
    assert by_name[BUNDLED_SEGMENTER]["task"] == "segmentation"
    assert by_name[BUNDLED_SEGMENTER]["classes"] == ["background", "left_calf", "right_calf"]
    assert by_name[BUNDLED_KEYPOINTS]["keypoints"][0] == "left_knee"
    assert d["user_folder"] == str(user_dir)


def test_broken_user_packages_are_reported_and_the_rest_still_listed(user_dir, capsys):
    (user_dir / "corrupt.onnx").write_bytes(b"garbage")
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.json", user_dir / "corrupt.json")
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.onnx", user_dir / "lonely.onnx")
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.onnx", user_dir / "wrong-size.onnx")
    d = json.loads((BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.json").read_text())
    d["input"]["size"] = [256, 256]
    (user_dir / "wrong-size.json").write_text(json.dumps(d))
    assert main(["models"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()  # one line, like every error
    assert line.startswith("thermorig: error: 3 broken model package(s): ")
    errors = line.split("; ")
    assert any("corrupt" in e and "not a readable ONNX model" in e for e in errors)
    assert any("lonely" in e and "has no lonely.json beside it" in e for e in errors)
    assert any("wrong-size" in e and "1×1×256×256" in e for e in errors)
    assert BUNDLED_SEGMENTER in captured.out and BUNDLED_KEYPOINTS in captured.out


def test_a_user_model_with_a_bundled_name_wins(user_dir):
    for ext in (".onnx", ".json"):
        shutil.copy(
            BUNDLED_DIR / f"{BUNDLED_SEGMENTER}{ext}", user_dir / f"{BUNDLED_SEGMENTER}{ext}"
        )
    assert find_model(BUNDLED_SEGMENTER).onnx_path.parent == user_dir
    entries = [e for e in list_models() if e.name == BUNDLED_SEGMENTER]
    assert [(e.origin, e.shadowed) for e in entries] == [("user", False), ("bundled", True)]


def test_unknown_model_name_lists_the_known_ones(user_dir):
    with pytest.raises(ModelError, match=f"no model named 'x'; known: .*{BUNDLED_SEGMENTER}"):
        find_model("x")


def test_models_benchmark_rows(user_dir, capsys, monkeypatch):
    """Every bundled model gets median and p95 rows; the segmenter has its torch peer or
    says why not (torch is optional), never a silent gap."""
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert main(["bench", "--only", "models", "--quick", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    for name in (BUNDLED_SEGMENTER, BUNDLED_KEYPOINTS):
        for stat in ("network median", "network p95", "frame end to end median"):
            assert rows[f"{name} {stat}"]["value"] > 0
    seg = rows[f"{BUNDLED_SEGMENTER} network median"]
    assert seg["peer_value"] is None and "torch not installed" in seg["note"]
