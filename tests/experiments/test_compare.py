"""A tiny end-to-end ``monai-topo compare`` on the neuron bundle: runs, resumes, reports failures, refuses early."""

from __future__ import annotations

import csv
import json

from monai_topo.cli import main

TINY = [
    "num_volumes=6", "num_validation=1", "num_test=2", "volume_size=32", "epochs=2", "val_interval=1",
    "topology_warmup=1", "roi_size=[32,32,32]", "channels=[8,16,32,64]", "num_samples=1",
]  # fmt: skip


def _compare(out, configs, config_file=None, checkpoint="final"):
    argv = ["compare", "--bundle", "neuron", "--seeds", "0", "--out", str(out), "--no-progress"]
    argv += ["--checkpoint", checkpoint]
    argv += ["--configs", *configs]
    if config_file is not None:
        argv += ["--config-file", str(config_file)]
    for item in TINY:
        argv += ["--override", item]
    return main(argv)


def test_compare_end_to_end(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"broken": {"overrides": {"loss#topology_loss#_target_": "no_such_module.Loss"}}}))
    code = _compare(tmp_path / "out", ["dicece", "supervoxel"], broken)
    printed = capsys.readouterr().out
    assert code == 1  # one run failed, the others completed
    out = tmp_path / "out"
    with open(out / "runs.csv") as handle:
        runs = {(r["configuration"], r["status"]) for r in csv.DictReader(handle)}
    assert runs == {("dicece", "ok"), ("supervoxel", "ok"), ("broken", "failed")}
    with open(out / "per_case.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2  # 2 finished configurations x 1 seed x 2 test cases
    test_cases = {
        e["label"].split("/")[-1][: -len(".nii.gz")]
        for e in json.loads((out / "data/dataset.json").read_text())["test"]
    }
    assert {r["case"] for r in rows} == test_cases  # evaluated on the test split only
    for row in rows:
        assert 0.0 <= float(row["dice"]) <= 1.0 and float(row["betti_error"]) >= 0
    with open(out / "summary.csv") as handle:
        summary = {(r["configuration"], r["metric"]): r for r in csv.DictReader(handle)}
    assert float(summary[("supervoxel", "step_time_vs_baseline")]["mean"]) > 0
    with open(out / "paired.csv") as handle:
        paired = list(csv.DictReader(handle))
    assert {r["configuration"] for r in paired} == {"supervoxel"}  # the failed one has no rows
    assert (out / "comparison.png").stat().st_size > 1000
    assert "FAILED: broken seed 0" in printed and "supervoxel - dicece, paired" in printed
    steps = json.loads((out / "runs/supervoxel/seed_0/steps.json").read_text())["steps"]
    assert steps[0]["active"] is False and steps[-1]["active"] is True  # warm-up of 1 epoch

    # resumable: the finished runs are skipped, only the failed one is tried again
    before = (out / "runs/dicece/seed_0/result.json").stat().st_mtime_ns
    assert _compare(out, ["dicece", "supervoxel"]) == 0
    assert (out / "runs/dicece/seed_0/result.json").stat().st_mtime_ns == before
    assert "no_such_module" in (out / "runs/broken/seed_0/train.log").read_text()  # the failure's log is kept

    # another checkpoint: the trained runs are evaluated again, not trained again
    train_log = (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns
    assert _compare(out, ["dicece", "supervoxel"], checkpoint="best") == 0
    assert (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns == train_log
    assert json.loads((out / "runs/dicece/seed_0/result.json").read_text())["checkpoint"] == "best"
    assert "model.pt" in (out / "runs/dicece/seed_0/eval_overrides.json").read_text()


def test_unknown_configuration_fails_before_training(tmp_path, caplog):
    assert _compare(tmp_path / "out", ["dicece", "no-such-loss"]) == 2
    assert "unknown configuration 'no-such-loss'" in caplog.text
    assert not (tmp_path / "out").exists()
