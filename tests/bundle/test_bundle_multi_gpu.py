"""``multi_gpu_train.json`` under ``torchrun --nproc_per_node 2`` on CPU (gloo), as the model zoo runs it on GPUs.

Each rank writes a small JSON report at the end of the run (added through the ``run`` override) with its rank,
the world size and how many validation cases *its* loader saw; rank 0's ``MetricsSaver`` output must hold the
metrics of *all* validation cases, i.e. the metrics were gathered across ranks.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from monai_topo.data import make_dataset
from tests.bundle.bundle_utils import BUNDLES, KINDS, TINY_TRAIN, bundle_path, config_file

REPORT = (
    "$open(os.path.join(@bundle_root, f'rank{torch.distributed.get_rank()}.json'), 'w').write(json.dumps({"
    "'rank': torch.distributed.get_rank(), 'world_size': torch.distributed.get_world_size(), "
    "'val_cases': len(@validate#dataloader), 'train_batches': len(@train#dataloader), "
    "'backend': torch.distributed.get_backend()}))"
)


#: failures of the local rendezvous (not of the bundle) that are worth one retry on a busy machine
_INFRA_ERRORS = ("EADDRINUSE", "Address already in use", "Connection refused", "RendezvousConnectionError")


def _run_torchrun(bundle: str, root, dataset_dir, timeout: int = 600, **override) -> subprocess.CompletedProcess:
    """``multi_gpu_train.json`` on 2 CPU processes with the tiny settings, plus ``override`` (config ids)."""
    args = {
        "config_file": config_file(bundle, "train.json", "multi_gpu_train.json"),
        "meta_file": str(bundle_path(bundle, "configs", "metadata.json")),
        "logging_file": str(bundle_path(bundle, "configs", "logging.conf")),
        "bundle_root": str(root),
        "dataset_dir": str(dataset_dir),
        **TINY_TRAIN,
        "run": ["$import json", "$@train#trainer.run()", REPORT],
        **override,
    }
    args_file = root / "args.json"
    args_file.write_text(json.dumps(args))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "monai.bundle", "run", "--args_file", str(args_file),
    ]  # fmt: skip
    return subprocess.run(cmd, check=False, cwd=str(root), env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "bundle", [BUNDLES[0], pytest.param(BUNDLES[1], marks=pytest.mark.slow)]
)  # same multi-GPU config; the second is covered with --runslow
def test_multi_gpu_train_torchrun_gloo(bundle, tmp_path):
    dataset_dir = tmp_path / "data"
    # 2 validation cases so that each of the 2 ranks gets one
    make_dataset(KINDS[bundle], dataset_dir, num_volumes=5, size=32, num_validation=2, num_test=1, progress=False)
    proc = _run_torchrun(bundle, tmp_path, dataset_dir)
    if proc.returncode != 0 and any(hint in proc.stdout + proc.stderr for hint in _INFRA_ERRORS):
        proc = _run_torchrun(bundle, tmp_path, dataset_dir)  # a port/rendezvous clash with another job: once more
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]

    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["world_size"] == 2 and r["backend"] == "gloo" for r in reports)
    assert [r["val_cases"] for r in reports] == [1, 1]  # DistributedSampler: one validation case per rank
    assert [r["train_batches"] for r in reports] == [1, 1]  # 2 training cases, one per rank

    # rank 0 saved the metrics of both validation cases: gathered across the ranks
    with open(tmp_path / "eval" / "validation" / "val_mean_dice_raw.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "filename" and len(rows) == 3
    assert len({row[0] for row in rows[1:]}) == 2
    with open(tmp_path / "eval" / "validation" / "metrics.csv", newline="") as handle:
        metrics = {row[0]: float(row[1]) for row in csv.reader(handle) if row}
    assert 0.0 <= metrics["val_mean_dice"] <= 1.0
    # checkpoints written once (rank 0), from the unwrapped network
    state = torch.load(tmp_path / "models" / "model_final.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in state)
    assert (tmp_path / "models" / "model.pt").is_file()
