"""Benchmark of :class:`monai_topo.losses.SkeletonRecallLoss`: what the tube costs when the loss builds it.

Forward + backward on a ``B x C x S^3`` batch (default ``2 x 2 x 48^3``, softmax over 2 classes, background
excluded, the paper's setting) of

- ``dicece``: ``DiceCELoss`` alone (the baseline);
- ``dicece_plus_recall_tube_given``: ``DiceCELoss + SkeletonRecallLoss`` with the tube passed in (built in the data
  pipeline by :class:`monai_topo.transforms.SkeletonTubed`);
- ``dicece_plus_recall_tube_built``: the same, the loss building the tube from the label at each call (what
  ``SupervisedTrainer`` / ``TopologyAwareLoss`` do);

plus ``tube_build`` (the thread-pooled skeletonisation alone) and ``transform_per_sample`` (``SkeletonTubed`` on
one sample, as a data loader worker runs it). Ratios are taken against ``dicece`` in the same run. The label is
the vessel-like mask of :mod:`benchmarks.supervoxel`, the logits those of a good noisy prediction.

The Skeleton Recall term alone, tube given, is also timed against the authors' loss (``reference``: the
computation of ``SoftSkeletonRecallLoss`` of Kirchhoff et al.'s nnU-Net code, rewritten here: softmax, the tube's
class labels scattered to one-hot, background dropped, ``-(sum(p * tube) + smooth) / (sum(tube) + smooth)``, no
input checks), interleaved: ``recall_tube_given_over_reference`` is what our input checks and options cost.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from benchmarks.supervoxel import trained_logits, tube_target
from benchmarks.utils import best_time, best_times_interleaved
from monai_topo.losses import SkeletonRecallLoss
from monai_topo.transforms import SkeletonTubed

__all__ = ["benchmark_skeleton_recall", "reference_skeleton_recall"]


def reference_skeleton_recall(logits: torch.Tensor, tube_labels: torch.Tensor, smooth: float = 1e-5) -> torch.Tensor:
    """The authors' Skeleton Recall term (nnU-Net trainer, ``batch_dice=False``) on logits and the tube's class labels.

    ``tube_labels`` is ``B 1 H W [D]``, integer: the class of each tube voxel, 0 elsewhere (what their data
    transform appends to the segmentation). Returns ``-mean(recall)``: ``SkeletonRecallLoss`` up to the constant 1.
    """
    p = torch.softmax(logits, 1)[:, 1:]
    axes = tuple(range(2, logits.ndim))
    with torch.no_grad():
        onehot = torch.zeros(logits.shape, device=logits.device, dtype=torch.float32)
        onehot.scatter_(1, tube_labels.long(), 1)
        onehot = onehot[:, 1:]
        size = onehot.sum(axes)
    inside = (p * onehot).sum(axes)
    return -((inside + smooth) / torch.clip(size + smooth, 1e-8)).mean()


def benchmark_skeleton_recall(
    shape: tuple[int, ...] = (2, 2, 48, 48, 48),
    repeats: int = 3,
    seed: int = 0,
    num_workers: int | None = None,
    device: str = "cpu",
) -> dict:
    """Time forward + backward of DiceCE alone, and with the Skeleton Recall term (tube given / built by the loss).

    Args:
        shape: ``B C H W [D]`` logits shape (``C >= 2``; the label has classes ``0`` and ``1``).
        repeats: best-of repeats per timing.
        seed: seed of the synthetic data.
        num_workers: threads of the loss's tube building (``None``: one per core).
        device: where the logits and label live (``"cuda"`` to time the GPU path; the tube is always built on the
            CPU).

    Returns:
        seconds per case, the ratios ``*_over_dicece`` and ``recall_tube_given_over_reference``, the tube's share of
        the label's voxels, and the settings.
    """
    from monai.losses import DiceCELoss

    if len(shape) not in (4, 5) or shape[1] < 2:
        raise ValueError(f"shape must be B C H W [D] with C >= 2, got {shape}.")
    spatial = tuple(shape[2:])
    masks = np.stack([tube_target(spatial, seed + b) for b in range(shape[0])])
    label = torch.from_numpy(masks[:, None].astype(np.float32)).to(device)
    fg = np.stack([trained_logits(m, seed + b) for b, m in enumerate(masks)])
    logits = np.zeros(shape, np.float32)
    logits[:, 1] = fg  # foreground logit against a background logit of 0
    logits = torch.from_numpy(logits).to(device)

    dicece = DiceCELoss(softmax=True, to_onehot_y=True)
    recall = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, num_workers=num_workers)
    transform = SkeletonTubed("label", num_classes=shape[1])
    skel = torch.stack([transform({"label": lab})["label_skel"] for lab in label.cpu()]).to(device)

    def sync() -> None:
        if label.device.type == "cuda":
            torch.cuda.synchronize()

    def fwd_bwd(with_recall: bool, given: bool) -> None:
        x = logits.clone().requires_grad_(True)
        value = dicece(x, label)
        if with_recall:
            value = value + recall(x, label, skeleton=skel if given else None)
        value.backward()
        sync()

    # the tube as the authors' transform gives it: the class label of each tube voxel (int16), B 1 spatial
    tube_labels = (skel.argmax(1, keepdim=True) + 1).to(torch.int16) * (skel.sum(1, keepdim=True) > 0)

    def recall_alone(ours: bool) -> None:
        x = logits.clone().requires_grad_(True)
        value = recall(x, label, skeleton=skel) if ours else reference_skeleton_recall(x, tube_labels)
        value.backward()
        sync()

    alone = best_times_interleaved(
        {"recall": lambda: recall_alone(True), "reference": lambda: recall_alone(False)}, max(repeats, 5)
    )
    x = logits.clone()
    agree = abs(float(recall(x, label, skeleton=skel)) - (1 + float(reference_skeleton_recall(x, tube_labels))))
    out: dict = {
        "recall_tube_given": alone["recall"],
        "reference_tube_given": alone["reference"],
        "recall_tube_given_over_reference": alone["recall"] / alone["reference"],
        "recall_minus_reference_value": agree,
        "dicece": best_time(lambda: fwd_bwd(False, False), repeats),
        "dicece_plus_recall_tube_given": best_time(lambda: fwd_bwd(True, True), repeats),
        "dicece_plus_recall_tube_built": best_time(lambda: fwd_bwd(True, False), repeats),
    }
    onehot = torch.nn.functional.one_hot(label[:, 0].long(), shape[1]).movedim(-1, 1)[:, 1:]
    out["tube_build"] = best_time(lambda: recall.tube(onehot), repeats)
    out["transform_per_sample"] = best_time(lambda: transform({"label": label[0].cpu()}), repeats)
    for key in ("dicece_plus_recall_tube_given", "dicece_plus_recall_tube_built"):
        out[f"{key}_over_dicece"] = out[key] / out["dicece"]
    out["tube_voxels_over_label_voxels"] = float(skel.sum() / label.sum())
    out.update(shape=tuple(shape), device=device, torch_threads=torch.get_num_threads(), cpu_cores=os.cpu_count())
    return out


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(benchmark_skeleton_recall(), indent=2))
