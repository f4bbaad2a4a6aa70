"""Every preset of ``monai-topo compare`` builds its loss from each bundle's train.json and computes it on logits."""

from __future__ import annotations

import pytest
import torch
from monai.bundle import ConfigParser

from monai_topo.experiments import PRESETS
from tests.bundle.bundle_utils import BUNDLES, bundle_path


@pytest.mark.parametrize("bundle", BUNDLES)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_loss_builds_and_runs(bundle, preset):
    parser = ConfigParser()
    parser.read_config(str(bundle_path(bundle, "configs", "train.json")))
    for key, value in PRESETS[preset].overrides.items():
        parser[key] = value
    parser["topology_warmup"] = 0  # evaluate the term at once
    loss = parser.get_parsed_content("loss")
    torch.manual_seed(0)
    logits = torch.randn(1, 2, 16, 16, 16, requires_grad=True)
    label = torch.zeros(1, 1, 16, 16, 16)
    label[0, 0, 4:12, 6:10, 6:10] = 1
    value = loss(logits, label)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(logits.grad).all()
    expect_term = PRESETS[preset].overrides.get("lambda_topology", parser["lambda_topology"]) > 0
    assert bool(loss.last_terms["active"]) == expect_term
