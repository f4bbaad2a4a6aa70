"""Hand-built masks with known topology for the metric tests (numpy bool, spatial only)."""

from __future__ import annotations

import numpy as np
import torch


def ring_2d() -> np.ndarray:
    """Square annulus: b = (1, 1)."""
    m = np.zeros((9, 9), bool)
    m[1:8, 1:8] = True
    m[3:6, 3:6] = False
    return m


def disk_2d() -> np.ndarray:
    """The ring filled in: b = (1, 0)."""
    m = np.zeros((9, 9), bool)
    m[1:8, 1:8] = True
    return m


def two_squares_2d() -> np.ndarray:
    """Two separate squares: b = (2, 0)."""
    m = np.zeros((9, 9), bool)
    m[1:3, 1:3] = True
    m[5:8, 5:8] = True
    return m


def diagonal_pair_2d() -> np.ndarray:
    """Two pixels touching at a corner: one component (8-conn) or two (4-conn)."""
    m = np.zeros((6, 6), bool)
    m[2, 2] = m[3, 3] = True
    return m


def single_square_2d() -> np.ndarray:
    m = np.zeros((6, 6), bool)
    m[2:4, 2:4] = True
    return m


def solid_torus_3d() -> np.ndarray:
    """Square ring extruded along the last axis: b = (1, 1, 0)."""
    m = np.zeros((9, 9, 7), bool)
    m[1:8, 1:8, 2:5] = True
    m[3:6, 3:6, 2:5] = False
    return m


def box_3d() -> np.ndarray:
    """The torus filled in: b = (1, 0, 0)."""
    m = np.zeros((9, 9, 7), bool)
    m[1:8, 1:8, 2:5] = True
    return m


def ball_with_cavity_3d() -> np.ndarray:
    """Cube with one enclosed empty voxel: b = (1, 0, 1)."""
    m = np.zeros((9, 9, 9), bool)
    m[1:8, 1:8, 1:8] = True
    m[4, 4, 4] = False
    return m


def ball_3d() -> np.ndarray:
    m = np.zeros((9, 9, 9), bool)
    m[1:8, 1:8, 1:8] = True
    return m


def two_balls_3d() -> np.ndarray:
    """b = (2, 0, 0)."""
    m = np.zeros((9, 9, 9), bool)
    m[1:4, 1:4, 1:4] = True
    m[5:8, 5:8, 5:8] = True
    return m


def corner_pair_3d() -> np.ndarray:
    """Two voxels touching at a corner: one component (26-conn) or two (6-conn)."""
    m = np.zeros((5, 5, 5), bool)
    m[1, 1, 1] = m[2, 2, 2] = True
    return m


def tube_2d() -> np.ndarray:
    """Straight tube 3 pixels wide along the second axis."""
    m = np.zeros((7, 13), bool)
    m[2:5, 1:12] = True
    return m


def tube_3d() -> np.ndarray:
    """Straight 3x3 tube along the last axis; its skeleton is 8 voxels on the axis."""
    m = np.zeros((7, 7, 12), bool)
    m[2:5, 2:5, 1:11] = True
    return m


def batch(*masks: np.ndarray) -> torch.Tensor:
    """Stack spatial masks as one batch of one-channel float tensors ``B 1 ...``."""
    return torch.as_tensor(np.stack(masks)[:, None].astype(np.float32))


def item(*channels: np.ndarray) -> torch.Tensor:
    """One batch item with the given channels ``1 C ...``."""
    return torch.as_tensor(np.stack(channels)[None].astype(np.float32))


#: ``(y_pred, y, message)``: inputs every metric refuses, and what its ``ValueError`` says
ILL_SHAPES = [
    (torch.zeros(1, 9, 9), torch.zeros(1, 9, 9), "B C H W"),  # no channel dim
    (torch.zeros(1, 1, 2, 9, 9, 9), torch.zeros(1, 1, 2, 9, 9, 9), "B C H W"),  # 4 spatial dims
    (torch.zeros(1, 1, 9, 9), torch.zeros(1, 1, 9, 8), "same shapes"),  # mismatch
    (torch.zeros(2, 1, 9, 9), torch.zeros(1, 1, 9, 9), "same shapes"),  # batch mismatch
    (torch.zeros(1, 1, 0, 9), torch.zeros(1, 1, 0, 9), "empty"),  # empty
    (torch.zeros(1, 1, 9, 9), None, "ground truth"),  # no target
    (torch.full((1, 1, 9, 9), float("nan")), torch.zeros(1, 1, 9, 9), "NaN or infinite"),  # NaN
]
