"""Toy problems shared by the persistence-loss tests: a broken / noisy prediction of a ring (2D) or torus (3D),
and the loop that optimises logits on one loss alone."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from monai_topo.topology import betti_numbers


def as_batch(a: np.ndarray) -> torch.Tensor:
    """``(1, 1, *a.shape)`` float64 tensor."""
    return torch.as_tensor(np.asarray(a, np.float64))[None, None]


def ring_problem_2d(rng):
    y = np.zeros((16, 16))
    y[3:13, 3:13] = 1
    y[5:11, 5:11] = 0  # thick ring, b = (1, 1)
    p = np.full((16, 16), 0.1)
    p[3:13, 3:13] = 0.8
    p[5:11, 5:11] = 0.15
    p[3:5, 8] = 0.3  # broken
    p[13:15, 1:3] = 0.7  # spurious blob outside
    p[7:9, 7:9] = 0.65  # spurious blob in the hole
    return np.clip(p + rng.normal(0, 0.03, p.shape), 0.01, 0.99), y


def ring_problem_3d(rng):
    y = np.zeros((12, 12, 12))
    y[2:10, 2:10, 5:7] = 1
    y[4:8, 4:8, 5:7] = 0  # a square torus, b = (1, 1, 0)
    p = np.full(y.shape, 0.1)
    p[y > 0] = 0.8
    p[2:4, 6, 5:7] = 0.3  # broken
    p[9:11, 10:12, 0:2] = 0.7  # spurious blob
    return np.clip(p + rng.normal(0, 0.03, p.shape), 0.01, 0.99), y


def optimise_logits(loss_fn: Callable[..., torch.Tensor], p: np.ndarray, y: np.ndarray, steps: int = 120) -> list[int]:
    """Adam on the logits of ``p`` under ``loss_fn(x, y)`` alone; returns the Betti numbers of the result."""
    x = torch.logit(as_batch(p)).float().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(x, as_batch(y).float()).backward()
        opt.step()
    return betti_numbers((torch.sigmoid(x) > 0.5)[0, 0].numpy()).tolist()
