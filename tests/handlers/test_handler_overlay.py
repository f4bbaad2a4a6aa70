"""TopologyErrorOverlay: writes an image event (and the counts) once per epoch of an ignite Engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ignite.engine import Engine
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from monai_topo.handlers import TopologyErrorOverlay, TopologyErrorOverlaySaver


def _item(ndim: int) -> dict[str, torch.Tensor]:
    shape = (12, 16) if ndim == 2 else (10, 12, 14)
    label = torch.zeros(shape)
    label[(slice(2, 4),) * (ndim - 1) + (slice(1, -1),)] = 1  # a tube along the last axis
    pred = label.clone()
    pred[(slice(2, 4),) * (ndim - 1) + (6,)] = 0  # cut: a split
    prob = 0.8 * pred + 0.1
    onehot = lambda m: torch.stack([1 - m, m])
    return {"pred": onehot(pred), "label": onehot(label), "prob": onehot(prob)}


def _events(log_dir) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


@pytest.mark.parametrize("ndim", [2, 3])
def test_image_event_each_epoch(tmp_path, ndim):
    engine = Engine(lambda engine, batch: [_item(ndim), _item(ndim)])
    writer = SummaryWriter(log_dir=str(tmp_path))
    TopologyErrorOverlay(summary_writer=writer, prob_key="prob" if ndim == 2 else None).attach(engine)
    engine.run(range(3), max_epochs=2)
    writer.close()
    acc = _events(tmp_path)
    images = acc.Images("topology_errors/overlay")
    assert [e.step for e in images] == [1, 2]  # once per epoch, not per iteration
    assert images[0].width > 300 and images[0].height > 100
    assert [e.value for e in acc.Scalars("topology_errors/split_regions")] == [1.0, 1.0]
    assert [e.value for e in acc.Scalars("topology_errors/merge_regions")] == [0.0, 0.0]
    assert ("topology_errors/diagram" in acc.Tags()["images"]) == (ndim == 2)


def test_internal_writer_and_interval(tmp_path):
    engine = Engine(lambda engine, batch: [_item(2)])
    handler = TopologyErrorOverlay(log_dir=str(tmp_path), interval=2)
    handler.attach(engine)
    engine.run(range(2), max_epochs=3)
    handler.close()
    assert [e.step for e in _events(tmp_path).Images("topology_errors/overlay")] == [2]


@pytest.mark.parametrize("kwargs,match", [({"index": -1}, "index"), ({"interval": 0}, "interval")])
def test_ill_opts(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TopologyErrorOverlay(log_dir=str(tmp_path), **kwargs)


def test_ill_shape(tmp_path):
    engine = Engine(lambda engine, batch: [{"pred": torch.zeros(4, 4), "label": torch.zeros(4, 4)}])
    TopologyErrorOverlay(log_dir=str(tmp_path)).attach(engine)
    with pytest.raises(ValueError, match="channel-first"):
        engine.run(range(1), max_epochs=1)


def _meta_item(tmp_path, name: str) -> dict:
    from monai.data import MetaTensor

    from tests.cli.cli_helpers import save_nifti

    label = torch.zeros(10, 12, 14)
    label[2:4, 2:4, 1:13] = 1
    pred = label.clone()
    pred[2:4, 2:4, 6] = 0  # a split
    affine = np.diag([2.0, 1.0, 1.0, 1.0])
    path = save_nifti(tmp_path / "labels" / f"{name}.nii.gz", label.numpy().astype(np.uint8), affine)
    onehot = lambda m: torch.stack([1 - m, m])
    return {"pred": onehot(pred), "label": MetaTensor(onehot(label), meta={"filename_or_obj": str(path)})}


def test_saver_writes_every_case_next_to_predictions(tmp_path):
    import nibabel as nib

    engine = Engine(lambda engine, batch: [_meta_item(tmp_path, f"case_{batch}")])
    TopologyErrorOverlaySaver(output_dir=str(tmp_path / "overlays")).attach(engine)
    engine.run(range(2), max_epochs=1)
    names = sorted(p.name for p in (tmp_path / "overlays").iterdir())
    assert names == ["case_0_errors.nii.gz", "case_0_errors.png", "case_1_errors.nii.gz", "case_1_errors.png"]
    image = nib.load(str(tmp_path / "overlays" / "case_0_errors.nii.gz"))
    np.testing.assert_allclose(image.affine, np.diag([2.0, 1.0, 1.0, 1.0]))
    data = np.asarray(image.dataobj)
    assert (data[2:4, 2:4, 6] == 1).all() and int((data > 0).sum()) == 4


def test_saver_needs_label_files(tmp_path):
    engine = Engine(lambda engine, batch: [_item(3)])
    TopologyErrorOverlaySaver(output_dir=str(tmp_path)).attach(engine)
    with pytest.raises(ValueError, match="filename_or_obj"):
        engine.run(range(1), max_epochs=1)
