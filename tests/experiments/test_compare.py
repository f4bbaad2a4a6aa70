"""A tiny end-to-end ``monai-topo compare`` on the neuron bundle: runs, post-processing, resume, stale runs, failures."""

from __future__ import annotations

import csv
import json

from monai_topo.cli import main

TINY = [
    "num_volumes=6", "num_validation=1", "num_test=2", "volume_size=32", "epochs=2", "val_interval=1",
    "topology_warmup=1", "roi_size=[32,32,32]", "channels=[8,16,32,64]", "num_samples=1",
]  # fmt: skip


def _compare(out, configs, config_file=None, checkpoint="final", extra=()):
    argv = ["compare", "--bundle", "neuron", "--seeds", "0", "--out", str(out), "--no-progress"]
    argv += ["--checkpoint", checkpoint]
    argv += ["--configs", *configs]
    if config_file is not None:
        argv += ["--config-file", str(config_file)]
    for item in [*TINY, *extra]:
        argv += ["--override", item]
    return main(argv)


def _csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_compare_end_to_end(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"broken": {"overrides": {"loss#topology_loss#_target_": "no_such_module.Loss", "lambda_topology": 0.5}}}))
    code = _compare(tmp_path / "out", ["dicece", "dicece+post", "supervoxel"], broken)
    printed = capsys.readouterr().out
    assert code == 1  # one run failed, the others completed
    out = tmp_path / "out"
    runs = {(r["configuration"], r["status"]): r for r in _csv(out / "runs.csv")}
    assert set(runs) == {("dicece", "ok"), ("dicece+post", "ok"), ("supervoxel", "ok"), ("broken", "failed")}
    # dicece+post shares dicece's training; its min_size was chosen on the validation split
    assert runs["dicece", "ok"]["run_dir"] == runs["dicece+post", "ok"]["run_dir"] == "runs/dicece/seed_0"
    assert not (out / "runs/dicece+post").exists()
    assert json.loads(runs["dicece", "ok"]["postprocess"]) == {}
    assert isinstance(json.loads(runs["dicece+post", "ok"]["postprocess"])["min_size"], int)
    assert "max_gap" not in json.loads(runs["dicece+post", "ok"]["postprocess"])  # the baseline: MONAI's steps only
    rows = _csv(out / "per_case.csv")
    assert len(rows) == 3 * 2  # 3 finished configurations x 1 seed x 2 test cases
    dataset = json.loads((out / "data/dataset.json").read_text())
    test_cases = {e["label"].split("/")[-1][: -len(".nii.gz")] for e in dataset["test"]}
    validation_cases = {e["label"].split("/")[-1][: -len(".nii.gz")] for e in dataset["validation"]}
    assert {r["case"] for r in rows} == test_cases  # evaluated on the test split only
    assert {r["case"] for r in _csv(out / "validation.csv")} == validation_cases
    for row in rows:
        assert 0.0 <= float(row["dice"]) <= 1.0 and float(row["betti_error"]) >= 0
        assert float(row["volume_ratio"]) >= 0 and float(row["fp_volume"]) >= 0 and float(row["fn_volume"]) >= 0
    summary = {(r["configuration"], r["metric"]): r for r in _csv(out / "summary.csv")}
    assert float(summary[("supervoxel", "step_time_vs_baseline")]["mean"]) > 0
    assert summary[("dicece", "dice")]["validation_mean"] != ""
    assert {r["configuration"] for r in _csv(out / "paired.csv")} == {"dicece+post", "supervoxel"}
    assert {(r["configuration"], r["seed"]) for r in _csv(out / "per_seed.csv")} == {
        ("dicece", "0"), ("dicece+post", "0"), ("supervoxel", "0")
    }
    assert (out / "comparison.png").stat().st_size > 1000
    assert "FAILED: broken seed 0" in printed and "supervoxel - dicece, paired" in printed
    assert "Dice difference to dicece per seed" in printed
    steps = json.loads((out / "runs/supervoxel/seed_0/run.json").read_text())["steps"]
    assert steps[0]["active"] is False and steps[-1]["active"] is True  # warm-up of 1 epoch

    # resumable: the finished runs are neither trained nor evaluated again, only the failed one is tried again
    train_log = (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns
    test_log = (out / "runs/dicece/seed_0/compare_test_final.log").stat().st_mtime_ns
    assert _compare(out, ["dicece", "dicece+post", "supervoxel"]) == 0
    assert (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns == train_log
    assert (out / "runs/dicece/seed_0/compare_test_final.log").stat().st_mtime_ns == test_log
    assert "no_such_module" in (out / "runs/broken/seed_0/train.log").read_text()  # the failure's log is kept

    # another checkpoint: the trained runs are evaluated again, not trained again
    assert _compare(out, ["dicece", "supervoxel"], checkpoint="best") == 0
    assert (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns == train_log
    assert "model.pt" in (out / "runs/dicece/seed_0/compare_test_best_overrides.json").read_text()
    assert {r["checkpoint"] for r in _csv(out / "runs.csv")} == {"best"}


def test_stale_runs_stop_before_training(tmp_path, caplog):
    """Another budget, bundle or data for an existing run folder: stop and say what differs, train nothing."""
    out = tmp_path / "out"
    assert _compare(out, ["dicece"]) == 0
    train_log = (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns
    assert _compare(out, ["dicece"], extra=["epochs=3"]) == 2
    assert "epochs: was 2, now 3" in caplog.text and "runs/dicece/seed_0" in caplog.text
    assert (out / "runs/dicece/seed_0/train.log").stat().st_mtime_ns == train_log
    caplog.clear()
    assert _compare(out, ["dicece"], extra=["learning_rate=0.01"]) == 2
    assert "learning_rate: was <unset>" in caplog.text


def test_unknown_configuration_fails_before_training(tmp_path, caplog):
    assert _compare(tmp_path / "out", ["dicece", "no-such-loss"]) == 2
    assert "unknown configuration 'no-such-loss'" in caplog.text
    assert not (tmp_path / "out").exists()


def test_corrupt_run_record_is_named_before_training(tmp_path, caplog):
    """A run.json that is not JSON, or JSON but not an object (was an AttributeError): exit 2 naming the file."""
    for text in ("{not json", "[1, 2]"):
        out = tmp_path / f"out_{len(text)}"
        record = out / "runs/dicece/seed_0/run.json"
        record.parent.mkdir(parents=True)
        record.write_text(text)
        caplog.clear()
        assert _compare(out, ["dicece"]) == 2
        assert str(record) in caplog.text and "delete its folder" in caplog.text
        assert not (record.parent / "train.log").exists()  # nothing was trained


def test_configurations_that_train_the_same_share_their_runs(tmp_path):
    """``dicece`` (lambda_topology 0) and ``bundle`` of a bundle that ships lambda_topology 0 train once per seed."""
    out = tmp_path / "out"
    assert _compare(out, ["dicece", "bundle"]) == 0
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["dicece"]
    rows = _csv(out / "per_seed.csv")
    assert sorted(r["configuration"] for r in rows) == ["bundle", "dicece"]
    runs = {r["configuration"]: r for r in _csv(out / "runs.csv")}
    assert json.loads(runs["bundle"]["postprocess"]) == {"max_gap": 6, "min_size": 128}  # as the bundle ships it
    # the bundle's post-processing is all that differs: the raw scores are those of the shared run
    assert _compare(out, ["dicece", "bundle"]) == 0  # resumes: the shared run's key matches both
