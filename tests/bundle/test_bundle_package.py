"""The bundles install with the package: ``monai_topo.bundles.path``, ``copy_bundle`` and ``monai-topo bundle``."""

from __future__ import annotations

import json

import pytest

import monai_topo.bundles
from monai_topo.cli import main


@pytest.mark.parametrize("name", ["neuron", "placenta", "neuron_topology_segmentation"])
def test_path_finds_the_installed_bundle(name):
    folder = monai_topo.bundles.path(name)
    assert folder.name.endswith("_topology_segmentation") and folder.parent.name == "bundles"
    assert json.loads((folder / "configs" / "metadata.json").read_text())["version"]


def test_path_names_the_bundles_for_an_unknown_name():
    with pytest.raises(ValueError, match=r"no bundle 'heart'.*neuron \(neuron_topology_segmentation\).*placenta"):
        monai_topo.bundles.path("heart")


def test_bundle_command_copies_a_complete_bundle(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["bundle", "placenta", "--out", str(out)]) == 0
    source = monai_topo.bundles.path("placenta")
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    shipped = sorted(
        p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert copied == shipped and "configs/train.json" in copied and "models/.gitkeep" in copied
    printed = capsys.readouterr().out
    assert str(out) in printed and "python -m monai.bundle run --config_file configs/train.json" in printed


def test_bundle_command_refuses_a_folder_in_use(tmp_path, caplog):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["bundle", "neuron", "--out", str(tmp_path)]) == 1
    assert "not an empty folder" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing written
    with pytest.raises(SystemExit):  # argparse: an unknown bundle name
        main(["bundle", "heart", "--out", str(tmp_path / "x")])
