"""Resuming a stopped bundle training: ``--resume_ckpt`` restores model, optimizer, trainer and loss counters.

Each bundle trains 2 tiny epochs (topology warm-up 1 epoch), which leaves ``models/checkpoint_epoch=2.pt``; a new
workflow with ``resume_ckpt`` pointing at it and ``epochs=3`` must start from exactly that state (checked by a
probe attached at ``Events.STARTED`` after the bundle's ``CheckpointLoader``) and run epoch 3 only.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from ignite.engine import Events
from monai.bundle import ConfigParser
from monai.handlers import CheckpointLoader, CheckpointSaver

from monai_topo.data import make_dataset
from tests.bundle.bundle_utils import BUNDLES, KINDS, TINY_TRAIN, config_file, make_workflow, preserved_root_logging
from tests.bundle.test_bundle_multi_gpu import _INFRA_ERRORS, _run_torchrun

# the term on from epoch 2 (lambda_topology 0.5: both bundles ship with their term off), so resuming restores it too
FIRST_RUN: dict[str, Any] = {**TINY_TRAIN, "epochs": 2, "val_interval": 2, "topology_warmup": 1, "lambda_topology": 0.5}


def _workflow(bundle: str, root: Path, **override: Any):
    return make_workflow(
        bundle, ("train.json",), "train", bundle_root=str(root), dataset_dir=str(root / "data"), **override
    )


def _epoch_checkpoints(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "models").glob("checkpoint_epoch=*.pt"))


def _assert_tensors_equal(actual: Any, expected: Any, where: str) -> None:
    """Recursive equality of (nested dicts / lists of) tensors and plain values."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            _assert_tensors_equal(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _assert_tensors_equal(a, e, f"{where}[{i}]")
    elif isinstance(expected, torch.Tensor):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=where)
    else:
        assert actual == expected, where


@pytest.mark.parametrize("bundle", BUNDLES)
def test_resume_from_last_checkpoint(bundle, tmp_path):
    with preserved_root_logging():
        # -- first run: 2 epochs, no resume (the CheckpointLoader is disabled by the empty resume_ckpt)
        workflow = _workflow(bundle, tmp_path, **FIRST_RUN)
        workflow.initialize()
        assert workflow.check_properties() == []
        handlers = workflow.parser.get_parsed_content("train#resume_handlers")
        assert [type(h) for h in handlers] == [CheckpointSaver]
        workflow.run()
        workflow.finalize()

        # one resumable checkpoint (n_saved=1: epoch 1's was replaced), with every object the loader restores
        assert _epoch_checkpoints(tmp_path) == ["checkpoint_epoch=2.pt"]
        ckpt = tmp_path / "models" / "checkpoint_epoch=2.pt"
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)
        assert set(saved) == {"model", "optimizer", "trainer", "loss"}
        assert saved["trainer"]["iteration"] == 2 * saved["trainer"]["epoch_length"]  # ignite saves the iteration
        saved_counters = saved["loss"]["_extra_state"]
        assert saved_counters["epoch"] == 1 and saved_counters["iteration"] >= 1  # as synced at the last epoch start
        assert saved["optimizer"]["state"], "Adam moments were saved"

        # -- second run: resume with a larger epoch budget
        workflow = _workflow(bundle, tmp_path, **{**FIRST_RUN, "epochs": 3, "resume_ckpt": str(ckpt)})
        workflow.initialize()
        assert workflow.check_properties() == []
        handlers = workflow.parser.get_parsed_content("train#resume_handlers")
        assert [type(h) for h in handlers] == [CheckpointLoader, CheckpointSaver]
        trainer = workflow.parser.get_parsed_content("train#trainer")
        network = workflow.parser.get_parsed_content("network")
        optimizer = workflow.parser.get_parsed_content("optimizer")
        loss = workflow.parser.get_parsed_content("loss")
        # before the run nothing is restored yet (the loader fires at STARTED): fresh weights, empty optimizer state
        assert not all(torch.equal(v, saved["model"][k]) for k, v in network.state_dict().items())
        assert not optimizer.state_dict()["state"]
        assert (loss.epoch, loss.iteration) == (0, 0)

        seen: dict[str, Any] = {"epochs": [], "active": []}

        def at_start(engine):  # attached after initialize(): runs right after the bundle's CheckpointLoader
            seen["start"] = (engine.state.epoch, engine.state.iteration)
            seen["model"] = copy.deepcopy(network.state_dict())
            seen["optimizer"] = copy.deepcopy(optimizer.state_dict())
            seen["loss_state"] = copy.deepcopy(loss.state_dict())
            seen["counters"] = (loss.epoch, loss.iteration)

        trainer.add_event_handler(Events.STARTED, at_start)
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda engine: seen["epochs"].append(engine.state.epoch))
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED, lambda _: seen["active"].append(loss.last_terms["active"])
        )
        workflow.run()
        workflow.finalize()

    # model, optimizer (Adam exp_avg / exp_avg_sq / step, param groups) and loss counters equal the checkpoint
    _assert_tensors_equal(seen["model"], saved["model"], "model")
    _assert_tensors_equal(seen["optimizer"], saved["optimizer"], "optimizer")
    assert all("exp_avg" in s and "exp_avg_sq" in s for s in seen["optimizer"]["state"].values())
    _assert_tensors_equal(seen["loss_state"], saved["loss"], "loss")
    assert seen["counters"] == (saved_counters["epoch"], saved_counters["iteration"])
    # the trainer continued from epoch 2: exactly one more epoch (3), with the topological term on (warm-up over)
    assert seen["start"] == (2, saved["trainer"]["iteration"])
    assert seen["epochs"] == [3]
    assert trainer.state.epoch == 3 and trainer.state.max_epochs == 3
    assert trainer.state.iteration == saved["trainer"]["iteration"] + saved["trainer"]["epoch_length"]
    assert seen["active"] and all(seen["active"])
    assert (loss.epoch, loss.iteration) == (2, trainer.state.iteration - 1)
    # the resumed run keeps writing resumable checkpoints; @latest_ckpt picks the newest one by epoch number
    assert "checkpoint_epoch=3.pt" in _epoch_checkpoints(tmp_path)
    third = torch.load(tmp_path / "models" / "checkpoint_epoch=3.pt", map_location="cpu", weights_only=True)
    assert third["trainer"]["iteration"] == trainer.state.iteration


def test_latest_ckpt_picks_highest_epoch(tmp_path):
    """``--resume_ckpt @latest_ckpt``: the highest N among ``checkpoint_epoch=N.pt`` (numerically), '' if none."""
    for bundle in BUNDLES:
        parser = ConfigParser()
        parser.read_config(config_file(bundle, "train.json"))
        parser["bundle_root"] = str(tmp_path)
        assert parser.get_parsed_content("latest_ckpt") == ""
        models = tmp_path / "models"
        models.mkdir(exist_ok=True)
        for name in ("checkpoint_epoch=9.pt", "checkpoint_epoch=10.pt", "model.pt", "model_final.pt"):
            (models / name).touch()
        parser.parse(reset=True)
        assert parser.get_parsed_content("latest_ckpt") == str(models / "checkpoint_epoch=10.pt")
        for path in models.iterdir():
            path.unlink()


#: each rank's trainer state and a checksum of its weights after the run
_RANK_STATE = (
    "$open(os.path.join(@bundle_root, 'state' + str(torch.distributed.get_rank()) + '.json'), 'w').write(json.dumps({"
    "'epoch': @train#trainer.state.epoch, 'iteration': @train#trainer.state.iteration, "
    "'loss_epoch': @loss.epoch, 'weights': float(sum(p.double().sum() for p in @network.parameters()))}))"
)


def test_resume_multi_gpu_torchrun_gloo(tmp_path):
    """multi_gpu_train.json: every rank restores the checkpoint (rank 1 too, or the ranks would train different
    epochs), only rank 0 writes checkpoints; ``--resume_ckpt @latest_ckpt`` finds the newest one."""
    bundle = BUNDLES[0]
    dataset_dir = tmp_path / "data"
    make_dataset(KINDS[bundle], dataset_dir, num_volumes=5, size=32, num_validation=2, num_test=1, progress=False)
    states = []
    for epochs, resume in ((2, ""), (3, "@latest_ckpt")):
        override = {**FIRST_RUN, "epochs": epochs, "resume_ckpt": resume}
        override["run"] = ["$import json", "$@train#trainer.run()", _RANK_STATE]
        proc = _run_torchrun(bundle, tmp_path, dataset_dir, **override)
        if proc.returncode != 0 and any(hint in proc.stdout + proc.stderr for hint in _INFRA_ERRORS):
            proc = _run_torchrun(bundle, tmp_path, dataset_dir, **override)  # a rendezvous clash: once more
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
        states.append([json.loads((tmp_path / f"state{rank}.json").read_text()) for rank in range(2)])
    first, resumed = states
    assert [s["epoch"] for s in first] == [2, 2] and [s["epoch"] for s in resumed] == [3, 3]
    # one iteration per epoch (2 training cases, one per rank): the resumed run did exactly one more
    assert [s["iteration"] for s in resumed] == [s["iteration"] + 1 for s in first]
    assert all(s["loss_epoch"] == 2 for s in resumed)
    assert resumed[0]["weights"] == resumed[1]["weights"] != first[0]["weights"]  # DDP replicas stayed in sync
    assert _epoch_checkpoints(tmp_path) == ["checkpoint_epoch=2.pt", "checkpoint_epoch=3.pt"]
    saved = torch.load(tmp_path / "models" / "checkpoint_epoch=3.pt", map_location="cpu", weights_only=True)
    assert not any(k.startswith("module.") for k in saved["model"])  # the unwrapped network, loadable without DDP
    assert saved["trainer"]["iteration"] == resumed[0]["iteration"]
