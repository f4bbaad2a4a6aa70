"""ensure_dataset: missing/empty folders get built-in data, datalists are reused, user data gets a datalist."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from monai_topo.data import create_datalist, ensure_dataset
from monai_topo.data.writers import DATALIST_NAME, save_nifti

SMALL = {"num_volumes": 3, "size": 32}


def _user_data(root: Path, names: list[str], image_suffix: str = "") -> None:
    for name in names:
        save_nifti(np.zeros((8, 8, 8), np.float32), root / "images" / f"{name}{image_suffix}.nii.gz", (1, 1, 1))
        save_nifti(np.zeros((8, 8, 8), np.uint8), root / "labels" / f"{name}.nii.gz", (1, 1, 1))


@pytest.mark.parametrize("kind", ["neuron", "placenta"])
def test_missing_folder_generates(tmp_path, caplog, kind):
    target = tmp_path / "nested" / "data"
    with caplog.at_level(logging.INFO, logger="monai_topo"):
        path = ensure_dataset(target, kind, **SMALL)
    assert Path(path) == target.resolve() / DATALIST_NAME and Path(path).is_file()
    assert f"no data found in {target.resolve()}: generating 3 built-in {kind} volumes" in caplog.text
    assert json.loads(Path(path).read_text())["kind"] == kind
    assert len(load_decathlon_datalist(path, data_list_key="training")) == 1
    assert not [p for p in target.iterdir() if p.name.startswith(".monai_topo-generating")]


def test_empty_folder_with_hidden_file_generates(tmp_path):
    (tmp_path / ".DS_Store").write_text("")
    path = ensure_dataset(tmp_path, "placenta", **SMALL)
    assert (tmp_path / "images" / "case_002.nii.gz").is_file() and path.is_file()


def test_existing_datalist_is_used(tmp_path):
    first = ensure_dataset(tmp_path, "placenta", **SMALL)
    stamp = first.stat().st_mtime_ns
    again = ensure_dataset(tmp_path, "neuron", num_volumes=5, size=48)  # kind/size ignored: data is there
    assert again == first and again.stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "images").iterdir())) == 3


def test_user_data_gets_a_datalist(tmp_path, caplog):
    names = [f"case{i}" for i in range(6)]
    _user_data(tmp_path, names)
    with caplog.at_level(logging.INFO, logger="monai_topo"):
        path = ensure_dataset(tmp_path, "neuron")
    assert "writing one for the images/ + labels/" in caplog.text
    assert not (tmp_path / "instances").exists()  # nothing generated
    data = json.loads(path.read_text())
    assert (len(data["training"]), len(data["validation"]), len(data["test"])) == (4, 1, 1)
    items = load_decathlon_datalist(path, data_list_key="training")
    items += load_decathlon_datalist(path, data_list_key="validation")
    items += load_decathlon_datalist(path, data_list_key="test")
    assert sorted(Path(i["image"]).name for i in items) == [f"{n}.nii.gz" for n in names]
    for item in items:
        assert Path(item["image"]).name == Path(item["label"]).name and Path(item["label"]).is_file()
    # deterministic split
    first = path.read_text()
    path.unlink()
    assert create_datalist(tmp_path).read_text() == first


@pytest.mark.parametrize("num_test,expected", [(0, (4, 2, 0)), (3, (1, 2, 3))])
def test_user_data_test_split(tmp_path, num_test, expected):
    _user_data(tmp_path, [f"case{i}" for i in range(6)])
    data = json.loads(ensure_dataset(tmp_path, "neuron", num_validation=2, num_test=num_test).read_text())
    assert (len(data["training"]), len(data["validation"]), len(data.get("test", []))) == expected
    held_out = {e["image"] for e in data["validation"] + data.get("test", [])}
    assert not held_out & {e["image"] for e in data["training"]}


def test_user_data_test_split_leaves_training(tmp_path):
    _user_data(tmp_path, [f"case{i}" for i in range(4)])
    with pytest.raises(ValueError, match="cannot be split into >= 1 training.*give fractions instead of counts"):
        create_datalist(tmp_path, num_validation=1, num_test=3)


@pytest.mark.parametrize("bundle", ["neuron", "placenta"])
@pytest.mark.parametrize("n, expected", [(2, (1, 1, 0)), (5, (2, 1, 2)), (12, (6, 2, 4))])
def test_small_user_folder_with_the_bundle_defaults(tmp_path, bundle, n, expected):
    """The bundles' num_validation / num_test are fractions: a user folder of a few volumes just works."""
    from monai.bundle import ConfigParser

    import monai_topo.bundles

    parser = ConfigParser()
    parser.read_config(str(monai_topo.bundles.path(bundle) / "configs" / "train.json"))
    _user_data(tmp_path, [f"case{i}" for i in range(n)])
    path = ensure_dataset(tmp_path, bundle, num_validation=parser["num_validation"], num_test=parser["num_test"])
    data = json.loads(path.read_text())
    assert (len(data["training"]), len(data["validation"]), len(data.get("test", []))) == expected


def test_user_data_nnunet_names(tmp_path):
    _user_data(tmp_path, ["a", "b"], image_suffix="_0000")
    data = json.loads(ensure_dataset(tmp_path).read_text())
    pairs = data["training"] + data["validation"]
    assert sorted((e["image"], e["label"]) for e in pairs) == [
        ("images/a_0000.nii.gz", "labels/a.nii.gz"),
        ("images/b_0000.nii.gz", "labels/b.nii.gz"),
    ]


def test_single_user_case_used_for_training_and_validation(tmp_path):
    _user_data(tmp_path, ["only"])
    data = json.loads(ensure_dataset(tmp_path).read_text())
    assert data["training"] == data["validation"] and len(data["training"]) == 1


def test_user_data_unmatched(tmp_path):
    _user_data(tmp_path, ["a", "b"])
    (tmp_path / "labels" / "b.nii.gz").unlink()
    with pytest.raises(ValueError, match="unmatched: images/b.nii.gz"):
        ensure_dataset(tmp_path)


@pytest.mark.parametrize(
    "setup",
    [
        lambda root: (root / "notes.txt").write_text("hello"),
        lambda root: save_nifti(np.zeros((4, 4, 4)), root / "volume.nii.gz", (1, 1, 1)),
        lambda root: (root / "images").mkdir(),
    ],
)
def test_garbage_folder(tmp_path, setup):
    setup(tmp_path)
    with pytest.raises(ValueError, match="cannot use .* as a dataset folder.*expected one of"):
        ensure_dataset(tmp_path, "neuron", **SMALL)
    assert not (tmp_path / DATALIST_NAME).exists()


def test_broken_datalist(tmp_path):
    (tmp_path / DATALIST_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="not a readable JSON datalist"):
        ensure_dataset(tmp_path)
    (tmp_path / DATALIST_NAME).write_text('{"validation": []}')
    with pytest.raises(ValueError, match="'training' list"):
        ensure_dataset(tmp_path)


def test_file_instead_of_folder(tmp_path):
    (tmp_path / "data").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        ensure_dataset(tmp_path / "data")


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        ensure_dataset(tmp_path, "liver")


def test_parallel_callers_generate_once(tmp_path, caplog):
    results, errors = [], []

    def call():
        try:
            results.append(ensure_dataset(tmp_path / "shared", "placenta", **SMALL))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    with caplog.at_level(logging.INFO, logger="monai_topo"):
        threads = [threading.Thread(target=call) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors and len(set(results)) == 1
    assert caplog.text.count("no data found") == 1
