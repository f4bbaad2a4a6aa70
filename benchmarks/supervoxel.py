"""Benchmark of :class:`monai_topo.losses.SupervoxelLoss` against cc3d labelling and MONAI's Dice / soft clDice.

The goal (``docs/algorithms.md``, "SupervoxelLoss"): a forward + backward pass within 3x of three cc3d
labellings of the same batch (the minimum any exact critical-component method needs: target objects, kept part,
error supervoxels). Two scenarios, measured in the same run on the same arrays:

- ``"trained"``: a vessel-like target (thin tubes) and the logits of a good prediction with gaps, spurious blobs and
  boundary noise (errors on ~1-2 % of the voxels), the regime a topological loss is used in (after a warm-up);
- ``"random"``: N(0, 1) logits (50 % errors, first iterations): the worst case.
"""

from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Callable

import cc3d
import numpy as np
import torch
from scipy import ndimage

from benchmarks.utils import CLOCKS, best_time
from monai_topo.losses.supervoxel import SupervoxelLoss

__all__ = ["benchmark_supervoxel", "tube_target", "trained_logits"]


def tube_target(spatial: tuple[int, ...], seed: int = 0, sigma: float = 4.0, width: float = 0.12) -> np.ndarray:
    """A vessel-like binary mask: where two smooth random fields are both near zero (thickened curves)."""
    rng = np.random.default_rng(seed)
    fields = [ndimage.gaussian_filter(rng.standard_normal(spatial), sigma) for _ in range(2)]
    near = [np.abs(f / f.std()) < width for f in fields]
    return near[0] & near[1] if len(spatial) == 3 else near[0]


def trained_logits(target: np.ndarray, seed: int = 0, error_rate: float = 0.002) -> np.ndarray:
    """Logits of a good prediction of ``target``: boundary flips, gaps, spurious blobs, and noise."""
    rng = np.random.default_rng(seed + 1)
    pred = target.copy()
    near = ndimage.binary_dilation(target)
    pred ^= ndimage.binary_dilation(rng.random(target.shape) < error_rate) & near  # gaps and thickenings
    pred |= ndimage.binary_dilation(rng.random(target.shape) < error_rate / 8, iterations=2)  # blobs
    logits = np.where(pred, 3.0, -3.0) + rng.standard_normal(target.shape)
    return logits.astype(np.float32)


def benchmark_supervoxel(
    shape: tuple[int, ...] = (2, 1, 128, 128, 128),
    repeats: int = 3,
    seed: int = 0,
    num_workers: int | None = None,
    clock: str = "wall",
) -> dict[str, dict[str, float]]:
    """Time SupervoxelLoss forward + backward against three cc3d labellings, Dice and soft clDice.

    Args:
        shape: ``B 1 H W [D]`` batch shape.
        repeats: best-of repeats per timing.
        seed: seed of the synthetic data.
        num_workers: passed to :class:`SupervoxelLoss` (``None``: one thread per core).
        clock: ``"wall"`` (default) or ``"cpu"``: process CPU time summed over all threads, which is robust on a
            shared, loaded machine (best measured with ``torch.set_num_threads(1)`` and ``num_workers=1``).

    Returns:
        ``{"trained": {...}, "random": {...}}``; each holds seconds for ``supervoxel_fwd_bwd`` (and
        ``supervoxel_fwd_bwd_1_thread``: no thread pool), ``critical_masks`` (input checks + detection), ``cc3d_x3`` (three 26/8-connected labellings of every item's binarised
        prediction), ``bce_fwd_bwd``, ``dice_fwd_bwd``, ``softcldice_fwd_bwd``, the ratio
        ``supervoxel_over_cc3d_x3``, the error fraction, and ``numpy_peak_mib`` (tracemalloc peak of one
        forward + backward: the numpy working memory; torch tensors are not traced). ``max_rss_mib`` of the
        process is reported at the top level.
    """
    from monai.losses import DiceLoss, SoftclDiceLoss

    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {tuple(CLOCKS)}, got {clock!r}.")
    if len(shape) not in (4, 5) or shape[1] != 1:
        raise ValueError(f"shape must be B 1 H W [D], got {shape}.")
    spatial = tuple(shape[2:])
    conn = 26 if len(spatial) == 3 else 8
    targets = np.stack([tube_target(spatial, seed + b) for b in range(shape[0])])[:, None]
    target = torch.from_numpy(targets.astype(np.float32))
    scenarios = {
        "trained": torch.from_numpy(np.stack([trained_logits(t[0], seed + b) for b, t in enumerate(targets)])[:, None]),
        "random": torch.randn(shape, generator=torch.Generator().manual_seed(seed)),
    }
    loss = SupervoxelLoss(num_workers=num_workers)
    serial = SupervoxelLoss(num_workers=1)
    bce = torch.nn.BCEWithLogitsLoss()
    dice = DiceLoss(sigmoid=True)
    cldice = SoftclDiceLoss(sigmoid=True)

    def fwd_bwd(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], logits: torch.Tensor) -> Callable[[], None]:
        def run() -> None:
            x = logits.clone().requires_grad_(True)
            fn(x, target).backward()

        return run

    out: dict = {}
    for name, logits in scenarios.items():
        masks = (logits > 0).numpy()

        def labellings(masks: np.ndarray = masks) -> None:
            for item in masks.reshape((-1,) + spatial):
                for _ in range(3):
                    cc3d.connected_components(item, connectivity=conn)

        row = {
            "error_fraction": float((masks != targets.astype(bool)).mean()),
            "supervoxel_fwd_bwd": best_time(fwd_bwd(loss, logits), repeats, clock),
            "supervoxel_fwd_bwd_1_thread": best_time(fwd_bwd(serial, logits), repeats, clock),
            "critical_masks": best_time(lambda logits=logits: loss.critical_masks(logits, target), repeats, clock),
            "cc3d_x3": best_time(labellings, repeats, clock),
            "bce_fwd_bwd": best_time(fwd_bwd(bce, logits), repeats, clock),
            "dice_fwd_bwd": best_time(fwd_bwd(dice, logits), repeats, clock),
            "softcldice_fwd_bwd": best_time(fwd_bwd(cldice, logits), 1, clock),  # seconds per call: one is enough
        }
        row["supervoxel_over_cc3d_x3"] = row["supervoxel_fwd_bwd"] / row["cc3d_x3"]
        tracemalloc.start()
        fwd_bwd(loss, logits)()
        row["numpy_peak_mib"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        out[name] = row
    out["max_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["shape"] = tuple(shape)
    out["clock"] = clock
    out["torch_threads"] = torch.get_num_threads()
    return out


if __name__ == "__main__":  # pragma: no cover
    import json
    import sys

    print(json.dumps(benchmark_supervoxel(clock=sys.argv[1] if len(sys.argv) > 1 else "wall"), indent=2))
