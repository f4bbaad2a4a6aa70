"""Both bundles show where the topological errors are: the evaluation writes every test case's error label map and
picture (``TopologyErrorOverlaySaver``), the training's validation logs the first case's to TensorBoard
(``TopologyErrorOverlay``).

The evaluation runs on the tiny generated data of ``bundle_utils.TINY_TRAIN`` with the bundle's untrained
network (its initial weights saved as the checkpoint): the errors are many, which is what the files must show.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import load_decathlon_datalist
from PIL import Image

from monai_topo.topology import TOPOLOGICAL_ERROR_CODES, error_component_counts
from monai_topo.visualize import render_error_overlay
from tests.bundle.bundle_utils import BUNDLES, TINY_TRAIN, config_file, make_workflow, preserved_root_logging


@pytest.mark.parametrize("bundle", BUNDLES)
def test_validation_logs_the_error_overlay(bundle):
    parser = ConfigParser()
    parser.read_config(config_file(bundle, "train.json"))
    targets = [handler["_target_"] for handler in parser["validate"]["handlers"]]
    assert "monai_topo.handlers.TopologyErrorOverlay" in targets


@pytest.mark.parametrize("bundle", BUNDLES)
def test_evaluation_writes_the_overlays(bundle, tmp_path):
    dataset_dir = tmp_path / "data"  # missing: the bundle generates its built-in data there
    with preserved_root_logging():
        workflow = make_workflow(
            bundle,
            ("train.json", "evaluate.json"),
            "eval",
            bundle_root=str(tmp_path),
            dataset_dir=str(dataset_dir),
            **TINY_TRAIN,
        )
        workflow.initialize()
        assert workflow.check_properties() == []
        (tmp_path / "models").mkdir()
        torch.save(workflow.parser.get_parsed_content("network").state_dict(), tmp_path / "models" / "model_final.pt")  # what evaluate.json loads
        workflow.run()
        workflow.finalize()
    overlays = tmp_path / "eval" / "test" / "overlays"
    test_cases = load_decathlon_datalist(dataset_dir / "dataset.json", data_list_key="test")
    assert len(test_cases) == TINY_TRAIN["num_test"]
    written = sorted(path.name for path in overlays.iterdir())
    stems = [str(case["label"]).rsplit("/", 1)[-1].split(".nii")[0] for case in test_cases]
    assert written == sorted(f"{stem}_errors.{ext}" for stem in stems for ext in ("nii.gz", "png"))
    for case, stem in zip(test_cases, stems):
        # the label map is on the label's grid, holds error codes only, and has errors where pred and label differ
        errors, label = nib.load(overlays / f"{stem}_errors.nii.gz"), nib.load(case["label"])
        codes = np.asarray(errors.dataobj)
        assert codes.shape == label.shape and codes.dtype == np.uint8
        np.testing.assert_allclose(errors.affine, label.affine, atol=1e-5)
        assert codes.any() and set(np.unique(codes).tolist()) <= {0, *TOPOLOGICAL_ERROR_CODES}
        pred = np.asarray(nib.load(tmp_path / "eval" / "test" / "predictions" / f"{stem}_seg.nii.gz").dataobj)
        np.testing.assert_array_equal(codes != 0, (pred != 0) != (np.asarray(label.dataobj) != 0))
        picture = Image.open(overlays / f"{stem}_errors.png")
        assert picture.mode == "P" and min(picture.size) > 100  # a palette PNG: the renderer's colours exactly
        counts = error_component_counts(codes)
        rendered, _ = render_error_overlay(codes, np.asarray(label.dataobj), pred, counts=counts, title=stem)
        np.testing.assert_array_equal(np.asarray(picture.convert("RGB")), rendered)
