"""Shared by the persistence-loss tests: a broken / noisy prediction of a ring (2D) or torus (3D), the loop that
optimises logits on one loss alone, and the CUDA-vs-CPU check."""

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


def check_cuda_matches_cpu(loss_fn: Callable[..., torch.Tensor]) -> None:
    """The loss and its gradient on a CUDA batch stay on CUDA and equal the CPU ones (needs a GPU)."""
    rng = np.random.default_rng(6)
    x = torch.tensor(rng.normal(0, 2, (2, 1, 10, 10, 10)), dtype=torch.float32)
    y = torch.tensor(rng.random((2, 1, 10, 10, 10)) > 0.6, dtype=torch.float32)
    xc = x.cuda().requires_grad_(True)
    value = loss_fn(xc, y.cuda())
    assert value.device.type == "cuda"
    value.backward()
    assert xc.grad.device.type == "cuda"
    xs = x.clone().requires_grad_(True)
    loss_fn(xs, y).backward()
    assert torch.allclose(value.cpu(), loss_fn(xs, y), atol=1e-5)
    assert torch.allclose(xc.grad.cpu(), xs.grad, atol=1e-5)
