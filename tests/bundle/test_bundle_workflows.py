"""Model-zoo style tests of the two bundles: train, evaluate, infer and export on tiny generated data.

Each bundle is trained once per module (one epoch on three generated 32^3 volumes, which the bundle itself
generates into the empty ``dataset_dir`` through ``monai_topo.data.ensure_dataset``); the other tests reuse its
checkpoint.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ckpt_export
from monai.data import load_decathlon_datalist
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.bundle.bundle_utils import BUNDLES, TINY_NET, TINY_TRAIN, bundle_path, make_workflow, preserved_root_logging

TOPOLOGY_COLUMNS = {
    "neuron_topology_segmentation": (
        "val_betti_error_b0",
        "val_betti_error_b1",
        "val_betti_error_b2",
        "val_cldice",
        "val_splits",
        "val_merges",
    ),
    "placenta_topology_segmentation": (
        "val_betti_error",
        "val_betti_error_b0",
        "val_betti_error_b1",
        "val_betti_error_b2",
        "val_euler_error",
        "val_hd95",
    ),
}


def _read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def _metrics_csv(path: Path) -> dict[str, float]:
    return {row[0]: float(row[1]) for row in _read_csv(path) if row}


@pytest.fixture(scope="module", params=BUNDLES)
def trained(request, tmp_path_factory) -> dict[str, Any]:
    """Train ``bundle`` for one tiny epoch; the checks live in :func:`test_train`."""
    bundle = request.param
    root = tmp_path_factory.mktemp(bundle)
    dataset_dir = root / "data"  # missing: the bundle generates its built-in data there
    with preserved_root_logging():
        workflow = make_workflow(
            bundle, ("train.json",), "train", bundle_root=str(root), dataset_dir=str(dataset_dir), **TINY_TRAIN,
            lambda_topology=1.0,  # both bundles ship their term off (post-processing instead): train it here
        )
        workflow.initialize()
        missing = workflow.check_properties()
        loss = workflow.parser.get_parsed_content("loss")
        workflow.run()
        terms = dict(loss.last_terms)
        workflow.finalize()
    return {"bundle": bundle, "root": root, "dataset_dir": dataset_dir, "missing": missing, "terms": terms}


def test_train(trained):
    root, bundle = trained["root"], trained["bundle"]
    assert trained["missing"] == []
    # the empty dataset_dir was filled with the built-in data of the right kind
    datalist = trained["dataset_dir"] / "dataset.json"
    assert datalist.is_file()
    assert len(load_decathlon_datalist(datalist, data_list_key="training")) == 1
    # the topological term was computed (no warm-up in the tiny run) and is finite
    assert trained["terms"]["active"] is True
    assert np.isfinite(trained["terms"]["topology"]) and np.isfinite(trained["terms"]["total"])
    # best-key-metric and final checkpoints, loadable into the bundle's network
    for name in ("model.pt", "model_final.pt"):
        state = torch.load(root / "models" / name, map_location="cpu", weights_only=True)
        assert state and not any(k.startswith("module.") for k in state)
    # validation metrics: Dice plus the topology metrics, per case and aggregated
    metrics = _metrics_csv(root / "eval" / "validation" / "metrics.csv")
    assert {"val_mean_dice", *TOPOLOGY_COLUMNS[bundle]} <= set(metrics)
    assert 0.0 <= metrics["val_mean_dice"] <= 1.0
    raw = _read_csv(root / "eval" / "validation" / "val_betti_error_b0_raw.csv")
    assert raw[0][0] == "filename" and len(raw) == 2  # header + one validation case
    # TensorBoard event files were written, with the error overlay of the first validation case
    events = list((root / "eval").glob("events.out.tfevents.*"))
    assert events
    images = set()
    for event_file in events:
        accumulator = EventAccumulator(str(event_file))
        accumulator.Reload()
        images |= set(accumulator.Tags()["images"])
    assert "topology_errors/overlay" in images


def test_evaluate(trained):
    root, bundle = trained["root"], trained["bundle"]
    with preserved_root_logging():
        workflow = make_workflow(
            bundle,
            ("train.json", "evaluate.json"),
            "eval",
            bundle_root=str(root),
            dataset_dir=str(trained["dataset_dir"]),
            **TINY_TRAIN,
        )
        workflow.initialize()
        assert workflow.check_properties() == []
        assert workflow.parser.get_parsed_content("eval_split") == "test"
        workflow.run()
        workflow.finalize()
    out = root / "eval" / "test"
    metrics = _metrics_csv(out / "metrics.csv")
    assert {"val_mean_dice", *TOPOLOGY_COLUMNS[bundle]} <= set(metrics)
    # per-case CSVs with a row per test case for the Betti errors and the others
    test_cases = load_decathlon_datalist(trained["dataset_dir"] / "dataset.json", data_list_key="test")
    for name in ("val_mean_dice", *TOPOLOGY_COLUMNS[bundle]):
        raw = _read_csv(out / f"{name}_raw.csv")
        assert raw[0][:2] == ["filename", "class0"], name
        assert [Path(r[0]).name for r in raw[1:]] == [Path(c["image"]).name for c in test_cases], name
        assert all(np.isfinite(float(r[1])) or name == "val_hd95" for r in raw[1:]), name
    # NIfTI predictions in the input's space: same shape and affine as the image, labels 0/1
    for case in test_cases:
        stem = Path(case["image"]).name.split(".nii")[0]
        pred = nib.load(out / "predictions" / f"{stem}_seg.nii.gz")
        image = nib.load(case["image"])
        assert pred.shape == image.shape
        np.testing.assert_allclose(pred.affine, image.affine, atol=1e-5)
        assert set(np.unique(np.asarray(pred.dataobj)).tolist()) <= {0, 1}


def test_inference_keeps_affine(trained, tmp_path):
    """inference.json on a folder of NIfTI images (no datalist), one of them not in RAS orientation."""
    root, bundle = trained["root"], trained["bundle"]
    case = load_decathlon_datalist(trained["dataset_dir"] / "dataset.json", data_list_key="test")[0]
    image = nib.load(case["image"])
    folder = tmp_path / "images"
    folder.mkdir()
    nib.save(image, folder / "ras.nii.gz")
    flipped = np.diag([-1.0, 1.0, 1.0, 1.0]) @ image.affine  # LAS: Orientationd must flip, Invertd flip back
    flipped[0, 3] = 10.0
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj)[::-1].copy(), flipped), folder / "las.nii.gz")
    out_dir = tmp_path / "out"
    with preserved_root_logging():
        workflow = make_workflow(
            bundle,
            ("inference.json",),
            "infer",
            bundle_root=str(root),
            dataset_dir=str(folder),
            output_dir=str(out_dir),
            **TINY_NET,
        )
        workflow.initialize()
        assert workflow.check_properties() == []
        workflow.run()
        workflow.finalize()
    preds = {}
    for name in ("ras", "las"):
        src = nib.load(folder / f"{name}.nii.gz")
        pred = nib.load(out_dir / f"{name}_seg.nii.gz")
        assert pred.shape == src.shape
        np.testing.assert_allclose(pred.affine, src.affine, atol=1e-5)
        preds[name] = np.asarray(pred.dataobj)
    # the same anatomy stored flipped gives the same segmentation in world space
    np.testing.assert_array_equal(preds["las"][::-1], preds["ras"])


def test_inference_datalist_from_dataset_folder(trained):
    """Pointed at a folder with a dataset.json, inference.json takes its test list (validation without one)."""
    config = bundle_path(trained["bundle"], "configs", "inference.json")
    parser = ConfigParser()
    parser.read_config(str(config))
    parser["dataset_dir"] = str(trained["dataset_dir"])
    expected = load_decathlon_datalist(trained["dataset_dir"] / "dataset.json", data_list_key="test")
    assert parser.get_parsed_content("datalist_split") == "test"
    assert [d["image"] for d in parser.get_parsed_content("datalist")] == [d["image"] for d in expected]


def test_ckpt_export(trained, tmp_path):
    bundle, root = trained["bundle"], trained["root"]
    ts_file = tmp_path / "model.ts"
    with preserved_root_logging():
        ckpt_export(
            net_id="network_def",
            filepath=str(ts_file),
            ckpt_file=str(root / "models" / "model.pt"),
            meta_file=str(bundle_path(bundle, "configs", "metadata.json")),
            config_file=str(bundle_path(bundle, "configs", "inference.json")),
            **TINY_NET,
        )
    net = torch.jit.load(str(ts_file))
    with torch.no_grad():
        out = net(torch.rand(1, 1, 32, 32, 32))
    assert out.shape == (1, 2, 32, 32, 32)


@pytest.mark.parametrize("configs", [("inference.json",), ("train.json", "evaluate.json")])
def test_save_probabilities(trained, tmp_path, configs):
    """``save_probabilities``: the foreground probability map next to each label map, in the input's space (what
    ``monai-topo diagram`` reads); its threshold at 0.5 is the saved segmentation without post-processing."""
    root, bundle = trained["root"], trained["bundle"]
    case = load_decathlon_datalist(trained["dataset_dir"] / "dataset.json", data_list_key="test")[0]
    out_dir = tmp_path / "out"
    overrides = {"output_dir": str(out_dir)} if configs == ("inference.json",) else {"eval_dir": str(out_dir)}
    extra = TINY_NET if configs == ("inference.json",) else TINY_TRAIN
    with preserved_root_logging():
        workflow = make_workflow(bundle, configs, "infer" if len(configs) == 1 else "eval", bundle_root=str(root),
                                 dataset_dir=str(trained["dataset_dir"]), save_probabilities=True, postprocess={},
                                 **overrides, **extra)  # fmt: skip
        workflow.initialize()
        workflow.run()
        workflow.finalize()
    folder = out_dir if configs == ("inference.json",) else out_dir / "predictions"
    stem = Path(case["image"]).name.split(".nii")[0]
    prob = nib.load(folder / f"{stem}_prob.nii.gz")
    seg = nib.load(folder / f"{stem}_seg.nii.gz")
    image = nib.load(case["image"])
    values = np.asarray(prob.dataobj)
    assert prob.shape == image.shape and values.dtype == np.float32
    np.testing.assert_allclose(prob.affine, image.affine, atol=1e-5)
    assert values.min() >= 0.0 and values.max() <= 1.0 and 0.0 < values.std()
    assert np.array_equal(values > 0.5, np.asarray(seg.dataobj) > 0)
