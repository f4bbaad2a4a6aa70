"""The loss configs shipped next to each bundle's train.json (e.g. ``configs/loss_skeleton_recall.json``) train."""

from __future__ import annotations

import json

import pytest

from monai_topo.losses import SkeletonRecallLoss
from tests.bundle.bundle_utils import BUNDLES, TINY_TRAIN, bundle_path, make_workflow, preserved_root_logging


@pytest.mark.parametrize("bundle", BUNDLES)
def test_skeleton_recall_config_trains(bundle, tmp_path):
    overlay = json.loads(bundle_path(bundle, "configs", "loss_skeleton_recall.json").read_text())
    assert overlay["topology_warmup"] == 0  # the paper trains with the term from the start
    with preserved_root_logging():
        workflow = make_workflow(
            bundle,
            ("train.json", "loss_skeleton_recall.json"),
            "train",
            bundle_root=str(tmp_path),
            dataset_dir=str(tmp_path / "data"),
            **TINY_TRAIN,
        )
        workflow.initialize()
        assert workflow.check_properties() == []
        loss = workflow.parser.get_parsed_content("loss")
        assert isinstance(loss.topology_loss, SkeletonRecallLoss)
        workflow.run()
        terms = dict(loss.last_terms)
        workflow.finalize()
    assert terms["active"] and 0.0 <= float(terms["topology"]) <= 1.0


@pytest.mark.parametrize("bundle", BUNDLES)
def test_seed_and_test_split_keys(bundle):
    config = json.loads(bundle_path(bundle, "configs", "train.json").read_text())
    assert isinstance(config["seed"], int)
    assert "$monai.utils.set_determinism(seed=@seed)" in config["initialize"]
    assert "num_test=@num_test" in config["datalist_file"]
    evaluate = json.loads(bundle_path(bundle, "configs", "evaluate.json").read_text())
    assert "'test'" in evaluate["eval_split"]
