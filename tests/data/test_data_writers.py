"""Dataset writers: NIfTI files and headers, the MONAI datalist, stored Betti numbers, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from monai.data import load_decathlon_datalist

from monai_topo.data import make_dataset, make_neuron_dataset, make_neuron_volume, make_placenta_dataset
from monai_topo.data.writers import DATALIST_NAME, split_counts
from monai_topo.data.synthesis import case_seed
from monai_topo.topology import betti_numbers

SPLITS = ("training", "validation", "test")


@pytest.fixture(scope="module")
def neuron_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("neurons")
    make_neuron_dataset(out, num_volumes=4, size=32, seed=0, progress=False)
    return out


@pytest.fixture(scope="module")
def placenta_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("placenta")
    make_placenta_dataset(out, num_volumes=3, size=32, seed=0, progress=False)
    return out


def _read(path: str | Path) -> nib.Nifti1Image:
    return nib.load(str(path))


def test_neuron_layout_and_headers(neuron_dir):
    names = [f"case_{i:03d}.nii.gz" for i in range(4)]
    for sub in ("images", "labels", "instances"):
        assert sorted(p.name for p in (neuron_dir / sub).iterdir()) == names
    image = _read(neuron_dir / "images" / names[0])
    label = _read(neuron_dir / "labels" / names[0])
    instances = _read(neuron_dir / "instances" / names[0])
    for img in (image, label, instances):
        assert img.shape == (32, 32, 32)
        assert tuple(float(z) for z in img.header.get_zooms()) == (1.0, 1.0, 2.0)
        np.testing.assert_allclose(np.diag(img.affine)[:3], (1.0, 1.0, 2.0))
        assert img.header.get_xyzt_units()[0] == "micron"
    assert image.get_data_dtype() == np.float32
    assert label.get_data_dtype() == np.uint8
    assert instances.get_data_dtype() == np.uint16


def test_neuron_datalist_loads_with_monai(neuron_dir):
    path = neuron_dir / DATALIST_NAME
    counts = {}
    for key in SPLITS:
        items = load_decathlon_datalist(path, data_list_key=key, base_dir=neuron_dir)
        counts[key] = len(items)
        for item in items:
            for field in ("image", "label", "instance"):
                assert Path(item[field]).is_file(), item
    assert counts == {"training": 2, "validation": 1, "test": 1}


def test_metadata(neuron_dir, placenta_dir):
    meta = json.loads((neuron_dir / DATALIST_NAME).read_text())
    for key in ("name", "description", "spacing", "seed", "size", "label_topology", "labels", "numTraining"):
        assert key in meta
    assert meta["spacing"] == [1.0, 1.0, 2.0] and meta["size"] == 32 and meta["seed"] == 0
    assert meta["kind"] == "neuron" and meta["label_topology"]["betti"] is None
    meta = json.loads((placenta_dir / DATALIST_NAME).read_text())
    assert meta["kind"] == "placenta" and meta["label_topology"]["betti"] == [1, 0, 0]
    assert meta["spacing"] == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("kind", ["neuron", "placenta"])
def test_stored_betti_match_written_masks(kind, neuron_dir, placenta_dir):
    root = neuron_dir if kind == "neuron" else placenta_dir
    meta = json.loads((root / DATALIST_NAME).read_text())
    for key in SPLITS:
        for entry in meta[key]:
            mask = np.asarray(_read(root / entry["label"]).dataobj)
            assert entry["betti"] == betti_numbers(mask).tolist()
            if kind == "placenta":
                assert entry["betti"] == [1, 0, 0]


def test_neuron_instances_match_labels(neuron_dir):
    meta = json.loads((neuron_dir / DATALIST_NAME).read_text())
    for entry in meta["training"] + meta["validation"] + meta["test"]:
        label = np.asarray(_read(neuron_dir / entry["label"]).dataobj)
        instances = np.asarray(_read(neuron_dir / entry["instance"]).dataobj)
        np.testing.assert_array_equal(instances > 0, label > 0)
        assert int(instances.max()) == entry["num_instances"] >= 2


def test_case_reproducible_from_its_seed(neuron_dir):
    entry = json.loads((neuron_dir / DATALIST_NAME).read_text())["training"][1]
    assert entry["seed"] == case_seed(0, 1)
    volume = make_neuron_volume(32, seed=entry["seed"])
    np.testing.assert_array_equal(np.asarray(_read(neuron_dir / entry["label"]).dataobj), volume.label)
    np.testing.assert_array_equal(np.asarray(_read(neuron_dir / entry["image"]).dataobj), volume.image)


def test_placenta_layout(placenta_dir):
    assert not (placenta_dir / "instances").exists()
    image = _read(placenta_dir / "images" / "case_000.nii.gz")
    assert tuple(float(z) for z in image.header.get_zooms()) == (1.0, 1.0, 1.0)
    assert image.header.get_xyzt_units()[0] == "mm"


def test_deterministic_files(tmp_path, placenta_dir):
    again = make_placenta_dataset(tmp_path / "again", num_volumes=3, size=32, seed=0, progress=False).parent
    other = make_placenta_dataset(tmp_path / "other", num_volumes=3, size=32, seed=1, progress=False).parent
    for sub in ("images", "labels"):
        for path in (placenta_dir / sub).iterdir():
            assert path.read_bytes() == (again / sub / path.name).read_bytes()
    assert (placenta_dir / DATALIST_NAME).read_text() == (again / DATALIST_NAME).read_text()
    first = np.asarray(_read(placenta_dir / "labels" / "case_000.nii.gz").dataobj)
    assert not np.array_equal(first, np.asarray(_read(other / "labels" / "case_000.nii.gz").dataobj))


def test_monai_loader_reads_spacing(neuron_dir):
    from monai.transforms import LoadImaged

    item = load_decathlon_datalist(neuron_dir / DATALIST_NAME, data_list_key="training")[0]
    loaded = LoadImaged(keys=["image", "label"], ensure_channel_first=True)(item)
    assert tuple(loaded["image"].shape) == (1, 32, 32, 32)
    np.testing.assert_allclose(loaded["image"].pixdim.tolist(), (1.0, 1.0, 2.0))


def test_overwrite(tmp_path):
    make_placenta_dataset(tmp_path, num_volumes=4, size=32, progress=False)
    with pytest.raises(FileExistsError):
        make_placenta_dataset(tmp_path, num_volumes=3, size=32, progress=False)
    make_placenta_dataset(tmp_path, num_volumes=3, size=32, progress=False, overwrite=True)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [f"case_{i:03d}.nii.gz" for i in range(3)]


def test_custom_split_and_volume_options(tmp_path):
    path = make_dataset(
        "neuron", tmp_path, num_volumes=3, size=32, num_validation=1, num_test=0, progress=False, photons=50.0
    )
    meta = json.loads(path.read_text())
    assert (len(meta["training"]), len(meta["validation"]), len(meta["test"])) == (2, 1, 0)
    assert meta["generator"]["parameters"]["photons"] == 50.0


@pytest.mark.parametrize(
    "args, expected",
    [
        [(12,), (8, 2, 2)],
        [(3,), (1, 1, 1)],
        [(2,), (1, 1, 0)],  # fractions (the default is a fifth) always leave a training case
        [(1,), (1, 0, 0)],
        [(10, 3, 0), (7, 3, 0)],
        [(5, 0, 1), (4, 0, 1)],
        [(28, 0.15, 0.3), (16, 4, 8)],  # the bundles' defaults on the built-in data: the split they always had
        [(5, 0.15, 0.3), (2, 1, 2)],  # ... and on a user's small folder
        [(4, 0.15, 0.3), (2, 1, 1)],
        [(3, 0.15, 0.3), (1, 1, 1)],
        [(10, 2, 0.5), (3, 2, 5)],
        [(6, 1.0, 2.0), (3, 1, 2)],  # whole floats are counts
    ],
)
def test_split_counts(args, expected):
    assert split_counts(*args) == expected


@pytest.mark.parametrize(
    "args, message",
    [
        [(5, 4, 1), "give fractions instead of counts"],
        [(3, 1, 2), "cannot be split into >= 1 training"],
        [(5, -1, 1), ">= 0"],
        [(5, 1.5, 1), "fraction in \\(0, 1\\)"],
        [(5, "a", 1), "a number of cases"],
    ],
)
def test_split_counts_ill(args, message):
    with pytest.raises(ValueError, match=message):
        split_counts(*args)


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        make_dataset("liver", tmp_path)
