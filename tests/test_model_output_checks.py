"""A model's NaN or infinite outputs are not labels (issue 14, case 8: "a model that
outputs NaN labels everything background")."""

from __future__ import annotations

import numpy as np
import pytest

from app.labels.sidecar import SOURCE_MODEL, SOURCE_NONE, LabelReader
from models.package import load_package
from models.runner import ModelRunner
from tests.broken_inputs import assert_one_line_error, run_cli
from tests.thermal_sessions import write_thermal_session
from tests.tiny_models import NAN_BELOW_C, SIZE, nan_segmenter


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return nan_segmenter(tmp_path_factory.mktemp("models"))


def test_the_runner_refuses_non_finite_outputs_naming_the_model(model):
    from models.errors import ModelOutputError

    runner = ModelRunner(load_package(model, threads=1))
    warm = np.full((SIZE, SIZE), 35.0 * 100 + 27315, np.uint16)
    assert runner.run(warm).mask.shape == (SIZE, SIZE)
    with pytest.raises(ModelOutputError, match="model 'nanseg' gave 3072 NaN or infinite values"):
        runner.run(np.full((SIZE, SIZE), 20 * 100 + 27315, np.uint16))


def test_infer_refuses_a_model_that_gives_nan_on_every_frame(model, tmp_path, capsys):
    """Before: exit 0, every frame labeled background."""
    session = write_thermal_session(tmp_path / "cold.h5", np.full((4, SIZE, SIZE), 20.0))
    out = tmp_path / "cold.labels.h5"
    code, _, err = run_cli(capsys, "infer", session, "--model", model, "--out", out, "-q")
    assert_one_line_error(code, err, "model 'nanseg' gave NaN or infinite outputs on all 4 frames")
    assert not out.exists()


def test_infer_leaves_frames_with_nan_outputs_unlabeled_and_says_so(model, tmp_path, capsys):
    celsius = np.full((6, SIZE, SIZE), 35.0)
    celsius[[1, 4]] = NAN_BELOW_C - 5
    session = write_thermal_session(tmp_path / "mixed.h5", celsius)
    out = tmp_path / "mixed.labels.h5"
    code, stdout, err = run_cli(capsys, "infer", session, "--model", model, "--out", out, "-q")
    assert code == 0 and not err
    assert "4/6 thermal frames labeled" in stdout
    assert "(2 left unlabeled: the model gave NaN or infinite outputs)" in stdout
    with LabelReader(out) as lr:
        source = lr.array("thermal", "source")
        assert source.tolist() == [SOURCE_MODEL, SOURCE_NONE, SOURCE_MODEL, SOURCE_MODEL,
                                   SOURCE_NONE, SOURCE_MODEL]  # fmt: skip
        assert (lr.mask("thermal", 1) == 255).all()
