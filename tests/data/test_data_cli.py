"""``monai-topo make-dataset``: the parser registered by ``monai_topo.cli.make_dataset`` and the full entry point."""

from __future__ import annotations

import argparse
import json

import pytest

from monai_topo.cli import main
from monai_topo.cli.make_dataset import register


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_register_defaults():
    args = _parser().parse_args(["make-dataset", "neuron", "--out", "somewhere"])
    assert (args.kind, args.out, args.num_volumes, args.size, args.seed) == ("neuron", "somewhere", 12, 96, 0)
    assert callable(args.func) and not args.overwrite


def test_register_runs(tmp_path, capsys):
    args = _parser().parse_args(
        ["make-dataset", "placenta", "--out", str(tmp_path), "-n", "3", "--size", "32", "--seed", "2", "--no-progress"]
    )
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "dataset.json")
    meta = json.loads((tmp_path / "dataset.json").read_text())
    assert meta["seed"] == 2 and meta["num_volumes"] == 3 and meta["size"] == 32


def test_bad_kind_is_rejected_by_the_parser():
    with pytest.raises(SystemExit):
        _parser().parse_args(["make-dataset", "liver", "--out", "x"])


def test_main_end_to_end(tmp_path):
    argv = ["make-dataset", "neuron", "--out", str(tmp_path), "-n", "3", "--size", "32", "--no-progress"]
    assert main(argv) == 0
    meta = json.loads((tmp_path / "dataset.json").read_text())
    assert [len(meta[k]) for k in ("training", "validation", "test")] == [1, 1, 1]
    assert (tmp_path / "instances" / "case_000.nii.gz").is_file()
    assert main(argv) == 1  # dataset.json exists: refused without --overwrite
    assert main([*argv, "--overwrite", "-n", "4"]) == 0
    assert json.loads((tmp_path / "dataset.json").read_text())["num_volumes"] == 4


def test_main_bad_split(tmp_path, caplog):
    argv = ["make-dataset", "placenta", "--out", str(tmp_path), "-n", "2", "--no-progress"]
    assert main([*argv, "--num-validation", "2"]) == 1
    assert "give fractions instead of counts" in caplog.text
    assert not (tmp_path / "dataset.json").exists()
