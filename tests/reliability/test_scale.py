"""Scale: realistic volume sizes run, give correct values and stay finite (no timing assertions).

- ``betti_numbers`` on a 256^3 volume of 64 objects with known topology (solid blocks, tori, hollow shells).
- ``SupervoxelLoss`` forward + backward on 1 x 1 x 160^3: finite, the sparse mean equals the dense weighted mean.
- ``PersistenceMatchingLoss`` with random patches on 256^3: persistence is computed on the patches only, the
  gradient lives inside them, and the loss is the sum of the patches' own losses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import monai_topo.losses.persistence as persistence_module
from monai_topo.losses import PersistenceMatchingLoss, SupervoxelLoss
from monai_topo.topology import betti_numbers, euler_characteristic


def _wavy(size: int, phase: float = 0.0) -> np.ndarray:
    """A smooth field in [-3, 3] with many blobs and handles, made cheaply by broadcasting."""
    axis = np.linspace(0, 6 * np.pi, size, dtype=np.float32)
    i, j, k = axis[:, None, None], axis[None, :, None], axis[None, None, :]
    return np.sin(i + phase) + np.sin(1.3 * j) + np.sin(0.7 * k + 2 * phase) * np.cos(0.5 * i)


def _known_topology_volume(size: int = 256, cells: int = 4) -> tuple[np.ndarray, list[int]]:
    """``cells^3`` separate objects, cycling through block (1,0,0), torus (1,1,0), shell (1,0,1), 2-torus (1,2,0)."""
    volume = np.zeros((size,) * 3, bool)
    step = size // cells
    expected = np.zeros(3, np.int64)
    kinds = [(1, 0, 0), (1, 1, 0), (1, 0, 1), (1, 2, 0)]
    for n, (a, b, c) in enumerate(np.ndindex(cells, cells, cells)):
        lo = np.array([a, b, c]) * step + 4
        hi = lo + step - 8
        block = tuple(slice(int(s), int(e)) for s, e in zip(lo, hi))
        volume[block] = True
        kind = kinds[n % 4]
        mid, quarter = (lo + hi) // 2, (hi - lo) // 4
        if kind == (1, 1, 0):  # one hole through the last axis
            volume[mid[0] - 4 : mid[0] + 4, mid[1] - 4 : mid[1] + 4, lo[2] : hi[2]] = False
        elif kind == (1, 0, 1):  # an enclosed cavity
            volume[mid[0] - 5 : mid[0] + 5, mid[1] - 5 : mid[1] + 5, mid[2] - 5 : mid[2] + 5] = False
        elif kind == (1, 2, 0):  # two holes
            for centre in (mid[0] - quarter[0], mid[0] + quarter[0]):
                volume[centre - 3 : centre + 3, mid[1] - 3 : mid[1] + 3, lo[2] : hi[2]] = False
        expected += kind
    return volume, expected.tolist()


def test_betti_numbers_256():
    volume, expected = _known_topology_volume(256)
    assert betti_numbers(volume).tolist() == expected
    assert betti_numbers(volume, connectivity=6).tolist() == expected  # thick objects: both constructions agree
    assert euler_characteristic(volume) == expected[0] - expected[1] + expected[2]


def test_supervoxel_loss_160():
    size = 160
    x = torch.as_tensor(_wavy(size) * 4.0)[None, None].requires_grad_(True)
    y = torch.as_tensor(_wavy(size, phase=0.3) > 0.2, dtype=torch.float32)[None, None]
    loss_fn = SupervoxelLoss()
    loss = loss_fn(x, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and torch.count_nonzero(x.grad) > 0
    critical = loss_fn.last_critical
    assert critical["fn"].shape == x.shape and (critical["fn"].any() or critical["fp"].any())
    dense = SupervoxelLoss(reduction="none")(x.detach(), y)
    torch.testing.assert_close(loss.detach(), dense.mean(), rtol=1e-5, atol=1e-7)


def test_persistence_matching_patches_256(monkeypatch):
    size, patch, num_patches = 256, 40, 3
    x = torch.as_tensor(_wavy(size) * 3.0)[None, None].requires_grad_(True)
    y = torch.as_tensor(_wavy(size, phase=0.2) > 0.0, dtype=torch.float32)[None, None]

    windows, shapes = [], []
    real_slices, real_persistence = persistence_module.patch_slices, persistence_module.compute_persistence

    def recording_slices(*args, **kwargs):
        out = real_slices(*args, **kwargs)
        windows.extend(out)
        return out

    def recording_persistence(values, *args, **kwargs):
        shapes.append(values.shape)
        return real_persistence(values, *args, **kwargs)

    monkeypatch.setattr(persistence_module, "patch_slices", recording_slices)
    monkeypatch.setattr(persistence_module, "compute_persistence", recording_persistence)
    loss = PersistenceMatchingLoss(sigmoid=True, patch_size=patch, num_patches=num_patches, seed=7)(x, y)
    loss.backward()
    monkeypatch.undo()

    assert len(windows) == num_patches
    assert shapes == [(patch,) * 3] * num_patches  # persistence only ever saw the patches
    assert torch.isfinite(loss) and float(loss.detach()) > 0 and torch.isfinite(x.grad).all()
    inside = torch.zeros(x.shape[2:], dtype=torch.bool)
    for window in windows:
        inside[window] = True
    grad = x.grad[0, 0]
    assert torch.count_nonzero(grad) > 0 and torch.count_nonzero(grad[~inside]) == 0
    # the loss of the volume is the sum of the patches' own losses
    per_patch = [
        PersistenceMatchingLoss(sigmoid=True, reduction="sum")(x.detach()[(..., *w)], y[(..., *w)]) for w in windows
    ]
    assert float(loss.detach()) == pytest.approx(float(sum(per_patch)), rel=1e-6)
