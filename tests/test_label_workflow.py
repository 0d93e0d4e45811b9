"""Every label command finds SESSION.labels.h5 beside the session when no file is named."""

from __future__ import annotations

import numpy as np

from app.cli import main
from app.labels.sidecar import LabelReader, default_labels_path
from tests.scene3d import apart, make_rig, write_session


def test_autolabel_stats_and_export_share_the_default_label_file(tmp_path, capsys):
    session = tmp_path / "legs.h5"
    write_session(session, make_rig(), [0.0, 0.01, 0.02], scene=apart, rig_in_session=True)
    assert default_labels_path(session) == tmp_path / "legs.labels.h5"

    assert main(["autolabel", str(session), "--rgb-labels", "truth", "-q"]) == 0
    with LabelReader(tmp_path / "legs.labels.h5") as lr:
        assert lr.count("thermal") == 3 and (lr.array("thermal", "source") > 0).all()

    csv = tmp_path / "curves.csv"
    assert main(["stats", str(session), "--csv", str(csv), "-q"]) == 0
    rows = csv.read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("frame,time_s,left_calf_mean_c")

    out = tmp_path / "export"
    code = main(["export", str(session), "--format", "png", "--status", "unreviewed",
                 "--out", str(out), "-q"])  # fmt: skip
    assert code == 0
    assert len(list((out / "train" / "masks").glob("*.png"))) == 3
    capsys.readouterr()


def test_without_labels_beside_it_stats_names_the_file_it_looked_for(tmp_path, capsys):
    session = tmp_path / "legs.h5"
    write_session(session, make_rig(), [0.0], scene=apart)
    assert main(["stats", str(session), "-q"]) == 2
    err = capsys.readouterr().err
    assert "legs.labels.h5" in err and len(err.strip().splitlines()) == 1
    assert np.all([not p.name.endswith(".tmp") for p in tmp_path.iterdir()])
