"""Bootstrap intervals over (seeds, cases) and the loss configurations of ``monai-topo compare``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monai_topo.cli.compare import parse_override
from monai_topo.experiments import PRESETS, Configuration, bootstrap_mean_ci, load_configurations
from monai_topo.experiments.configurations import resolve_configurations


def test_constant_grid_has_a_point_interval():
    ci = bootstrap_mean_ci(np.full((3, 5), 2.0))
    assert (ci.mean, ci.low, ci.high, ci.n_seeds, ci.n_cases) == (2.0, 2.0, 2.0, 3, 5)
    assert ci.excludes_zero()


def test_interval_covers_mean_and_widens_with_spread():
    rng = np.random.default_rng(1)
    narrow = bootstrap_mean_ci(rng.normal(1.0, 0.1, size=(3, 8)))
    wide = bootstrap_mean_ci(rng.normal(1.0, 2.0, size=(3, 8)))
    assert narrow.low <= narrow.mean <= narrow.high
    assert (wide.high - wide.low) > 5 * (narrow.high - narrow.low)
    assert narrow.excludes_zero() and not wide.excludes_zero()


def test_seed_variation_enters_the_interval():
    # every case agrees within a seed, but the seeds disagree: resampling cases alone would give a point interval
    grid = np.array([[0.0] * 6, [2.0] * 6, [4.0] * 6])
    ci = bootstrap_mean_ci(grid)
    assert ci.mean == pytest.approx(2.0)
    assert ci.low < 1.0 and ci.high > 3.0


def test_nan_cells_and_empty_grid():
    grid = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])  # second seed failed
    ci = bootstrap_mean_ci(grid)
    assert (ci.mean, ci.n_seeds, ci.n_cases) == (2.0, 1, 2)
    empty = bootstrap_mean_ci(np.full((2, 2), np.nan))
    assert np.isnan(empty.mean) and empty.n_cases == 0


def test_bad_confidence():
    with pytest.raises(ValueError, match="confidence must be in"):
        bootstrap_mean_ci(np.ones(3), confidence=1.5)


def test_presets_named_in_the_issue_exist():
    for name in ("dicece", "supervoxel", "hu-patches", "sat-patches", "betti-prior", "cldice", "skeleton-recall"):
        assert name in PRESETS
    assert PRESETS["dicece"].overrides == {"lambda_topology": 0}


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_configuration_file(tmp_path, suffix):
    spec = {"base": "dicece", "sv5": {"preset": "supervoxel", "overrides": {"lambda_topology": 5}}}
    path = tmp_path / f"c{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(spec))
    else:
        import yaml

        path.write_text(yaml.safe_dump(spec))
    configs = load_configurations(path)
    assert [c.name for c in configs] == ["base", "sv5"]
    assert configs[1].overrides["lambda_topology"] == 5
    assert configs[1].overrides["loss#topology_loss"]["_target_"] == "monai_topo.losses.SupervoxelLoss"
    assert PRESETS["supervoxel"].overrides["lambda_topology"] == 0.1  # the preset itself is not changed


def test_bad_configurations(tmp_path):
    with pytest.raises(ValueError, match="unknown configuration 'supervoxl'"):
        resolve_configurations(["dicece", "supervoxl"])
    with pytest.raises(ValueError, match="used twice"):
        resolve_configurations(["dicece", "dicece"])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": {"preset": "nope"}}))
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        load_configurations(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        load_configurations(bad)
    bad.write_text(json.dumps({"x": {"override": {}}}))
    with pytest.raises(ValueError, match="unknown keys"):
        load_configurations(bad)
    with pytest.raises(ValueError, match="must be non-empty"):
        Configuration("a/b")


def test_parse_override():
    assert parse_override("roi_size=[32, 32, 32]") == ("roi_size", [32, 32, 32])
    assert parse_override("name=abc") == ("name", "abc")
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        parse_override("epochs")


def test_post_baseline_leaves_the_gap_bridging_out():
    from monai_topo.experiments import configuration_postprocess

    configs = resolve_configurations(["dicece", "dicece+post", "bundle"])
    shipped = {"max_gap": 6, "min_size": 128}
    assert [configuration_postprocess(c, shipped) for c in configs] == [
        {},
        {"min_size": "auto"},  # MONAI's transforms only: the practitioner's baseline
        {"max_gap": 6, "min_size": 128},
    ]
    placenta = {"keep_largest": True, "fill_holes": True}
    assert configuration_postprocess(configs[1], placenta) == placenta  # no min_size shipped: none chosen
    assert configuration_postprocess(configs[1], {}) == {"min_size": "auto"}
    custom = Configuration("mine", {}, "custom", postprocess={"max_gap": 4, "min_size": "auto"})
    assert configuration_postprocess(custom, shipped) == {"max_gap": 4, "min_size": "auto"}
