"""``thermorig simulate-stills``: folders of board stills with their truth."""

import json

import cv2
import pytest

from app.cli import main


def test_simulate_stills_writes_matched_folders_and_refuses_a_used_folder(tmp_path, capsys):
    out = tmp_path / "stills"
    args = ["simulate-stills", str(out), "--views", "3", "--thermal-colormap", "iron"]
    args += ["--thermal-size", "160x120", "--color-size", "320x180", "--depth-size", "160x120"]
    assert main([*args, "-q"]) == 0
    truth = json.loads((out / "truth.json").read_text())
    assert truth["board"] == "checker:8x6:40" and truth["thermal"]["colormap"] == "ironbow"
    for sub, shape in (("thermal", (120, 160, 3)), ("color", (180, 320, 3)), ("ir", (120, 160))):
        files = sorted((out / sub).iterdir())
        assert [p.name for p in files] == ["still_000.png", "still_001.png", "still_002.png"]
        image = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
        assert image.shape == shape
    assert (
        cv2.imread(str(out / "ir" / "still_000.png"), cv2.IMREAD_UNCHANGED).dtype.name == "uint16"
    )
    capsys.readouterr()
    assert main([*args, "-q"]) == 2  # the folder is no longer empty: nothing replaced
    err = capsys.readouterr().err.strip()
    assert "not empty" in err and "\n" not in err


def test_simulate_stills_refuses_bad_sizes_and_view_counts(tmp_path, capsys):
    assert main(["simulate-stills", str(tmp_path / "a"), "--views", "40", "-q"]) == 2
    assert "--views 40" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    with pytest.raises(SystemExit) as exc:  # argparse's one line, exit 2
        main(["simulate-stills", str(tmp_path / "b"), "--thermal-size", "160", "-q"])
    assert exc.value.code == 2
    assert "give WxH" in capsys.readouterr().err
