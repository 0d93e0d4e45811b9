"""drivers.outputs: the one rule for every output path, case by case. The commands'
own tests (test_stats, test_calibrate_images, test_calibrate, test_autolabel) check that
each command follows it where issue 14 found one that did not."""

from __future__ import annotations

import os

import pytest

from drivers.outputs import OutputError, check_outputs, file_output, folder_output


# -- the rule, unit by unit -----------------------------------------------------------
def test_an_existing_file_is_replaced_only_with_overwrite(tmp_path):
    target = tmp_path / "curves.csv"
    target.write_text("a person's file")
    with pytest.raises(OutputError, match="already exists.*--overwrite"):
        check_outputs([file_output("--csv", target)])
    check_outputs([file_output("--csv", target)], overwrite=True)
    check_outputs([file_output("--csv", tmp_path / "new.csv")])  # a new name is fine


def test_a_command_without_overwrite_does_not_offer_it(tmp_path):
    target = tmp_path / "new.h5"
    target.write_bytes(b"x")
    with pytest.raises(OutputError, match="already exists") as info:
        check_outputs([file_output("--out", target)], overwrite=None)
    assert "--overwrite" not in str(info.value)


@pytest.mark.parametrize("link", ["same", "symlink", "hardlink"])
def test_an_input_is_never_an_output_not_even_with_overwrite(tmp_path, link):
    data = tmp_path / "session.h5"
    data.write_bytes(b"raw data")
    out = tmp_path / "out.csv"
    if link == "same":
        out = data
    elif link == "symlink":
        out.symlink_to(data)
    else:
        os.link(data, out)
    with pytest.raises(OutputError, match="an input of this run"):
        check_outputs([file_output("--csv", out)], [data], overwrite=True)


def test_two_outputs_may_not_name_one_file(tmp_path):
    a = tmp_path / "rig.json"
    with pytest.raises(OutputError, match="--out and --yaml name the same file"):
        check_outputs([file_output("--out", a), file_output("--yaml", tmp_path / "." / a.name)])
    a.write_text("{}")
    (tmp_path / "rig.yaml").symlink_to(a)
    with pytest.raises(OutputError, match="name the same file"):
        check_outputs(
            [file_output("--out", a), file_output("--yaml", tmp_path / "rig.yaml")], overwrite=True
        )


def test_a_file_output_needs_its_folder_a_file_name_and_its_ending(tmp_path):
    with pytest.raises(OutputError, match="does not exist.*create it first"):
        check_outputs([file_output("--csv", tmp_path / "missing" / "c.csv")])
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        check_outputs([file_output("--csv", tmp_path / "folder.csv")], overwrite=True)
    with pytest.raises(OutputError, match=r"ending in \.csv"):
        check_outputs([file_output("--csv", tmp_path / "session.h5", (".csv",))])
    check_outputs([file_output("--csv", tmp_path / "UPPER.CSV", (".csv",))])


def test_a_folder_output_is_new_empty_or_holds_none_of_its_files(tmp_path):
    report = tmp_path / "report"
    check_outputs([folder_output("--report", report, ("*_calibration.txt",))])
    report.mkdir()
    (report / "notes.txt").write_text("kept")
    check_outputs([folder_output("--report", report, ("*_calibration.txt",))])
    (report / "thermal_calibration.txt").write_text("an earlier report")
    with pytest.raises(OutputError, match="already holds thermal_calibration.txt"):
        check_outputs([folder_output("--report", report, ("*_calibration.txt",))])
    check_outputs([folder_output("--report", report, ("*_calibration.txt",))], overwrite=True)
    # Without member names (export) the folder must be new or empty, --overwrite or not.
    with pytest.raises(OutputError, match="not empty"):
        check_outputs([folder_output("--out", report)], overwrite=True)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for path in (afile, afile / "sub"):
        with pytest.raises(OutputError, match="give a folder"):
            check_outputs([folder_output("--report", path)])


def test_a_folder_output_never_writes_into_an_input_folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    with pytest.raises(OutputError, match="an input folder"):
        check_outputs([folder_output("--report", images, ("x",))], [images], overwrite=True)


def test_a_file_output_may_not_be_one_its_folder_output_writes(tmp_path):
    with pytest.raises(OutputError, match="writes into"):
        check_outputs(
            [
                file_output("--out", tmp_path / "rig_calibration.txt"),
                folder_output("--report", tmp_path, ("*_calibration.txt",)),
            ]
        )


def test_inputs_that_are_not_files_are_ignored(tmp_path):
    check_outputs([file_output("--out", tmp_path / "l.h5")], ["truth", None, "", "model:x"])
