"""SATLoss: spatial-aware persistent-feature matching (ICCV 2025), full 2D and 3D, all dimensions."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.utils import LossReduction

from monai_topo.losses.persistence import DiagramPoints, PersistenceLossBase, WorkItem
from monai_topo.topology import compute_persistence
from monai_topo.topology.matching import normalize_locations, spatial_aware_matching
from monai_topo.topology.validation import renamed_arguments

__all__ = ["SpatialAwareMatchingLoss"]


@dataclass(frozen=True)
class _SATItem:
    """What one work item of :class:`SpatialAwareMatchingLoss` returns (numpy, from the thread pool).

    Attributes:
        pairs: prediction points transported to target points (one row per plan entry).
        target_births, target_deaths: the partner target point of each row of ``pairs``.
        pair_weights: plan mass times spatial factor of each row of ``pairs``.
        diagonal: prediction points transported to the diagonal.
        diagonal_weights: plan mass of each row of ``diagonal``.
        constant: cost of target points sent to the diagonal (no gradient).
        num_points: prediction points after the ``min_persistence`` cut.
        num_points_in_ot: those that entered an optimal transport after pruning.
    """

    pairs: DiagramPoints
    target_births: np.ndarray
    target_deaths: np.ndarray
    pair_weights: np.ndarray
    diagonal: DiagramPoints
    diagonal_weights: np.ndarray
    constant: float
    num_points: int
    num_points_in_ot: int


def _safe_norm(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """``sqrt(dx^2 + dy^2)`` with a zero (not NaN) gradient where both are 0."""
    sq = dx * dx + dy * dy
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))), torch.zeros_like(sq))


class SpatialAwareMatchingLoss(PersistenceLossBase):
    """Spatial-aware topological loss (SATLoss): optimal transport between the diagrams of prediction and
    target with a ground cost that also looks at where the features are.

    Per sample, foreground channel and window, for each homology dimension ``k`` in ``dims``:

    - superlevel diagrams of the probabilities ``p`` and of the target (as a float image: a binary target's
      points sit at ``(1, 0)``, a soft target has its own), each point located at its birth (creator) voxel,
      normalised per axis to ``[0, 1]^d`` within the window;
    - ground cost ``M_ij = clamp(||loc_i - loc_j||_2, min_factor, max_factor) * ||D_i - D_j||_2`` with
      ``D = (birth, death)``; a point goes to the diagonal at ``|d - b| / sqrt(2)`` (no spatial factor);
    - exact optimal transport (``ot.emd``) on the ``(n + 1) x (m + 1)`` matrix with the diagonal row and column
      (masses 1 per point, ``m`` and ``n`` for the diagonal);
    - ``loss = sum_ij plan_ij * M_ij``, where the plan is a constant from numpy and ``M`` is rebuilt in torch from
      the probabilities gathered at the critical voxels, so autograd flows through ``M``.

    The loss of an item is the sum over dimensions and windows. SATLoss is meant to be combined with a voxel
    loss (the paper uses BCE/Dice + 0.01 x SATLoss); see ``monai_topo.losses.TopologyAwareLoss``.

    **Pruning (approximation).** A noisy 96^3 likelihood has ~1e5 diagram points; exact OT on all of them is
    out of reach. Only these prediction points enter the OT; the others are sent to the diagonal at their
    fixed cost ``|d - b| / sqrt(2)`` (which still gives them a gradient towards the diagonal):
    the ``K = ceil(prune_factor * m) + prune_min`` most persistent ones (``m`` = number of target points), plus,
    for each target point, the ``candidates_per_target`` points that are cheapest to match to it relative to
    their diagonal cost (the spatially close ones, even if weak). The result equals the exact OT whenever
    ``K >= n``, or ``candidates_per_target >= m`` with ``n * m <= 2^22`` (proof in
    :func:`monai_topo.topology.matching.spatial_aware_matching`; for larger ``n * m`` the candidates come from a
    nearest-neighbour search); otherwise it is never below the exact value and exceeds it by at most
    ``sum (diag_i + diag_j - M_ij)`` over the exact plan's pairs whose prediction point was pruned.
    ``prune_factor=None`` runs the exact OT on every point. On a noisy 96^3 likelihood (~1.6e5 points in
    dimension 1) this leaves a few hundred to a few thousand points; the OT grows with ``m^2``, so for targets
    with ~1000 features in one window prefer patches.

    Differences from the public code: full 3D and every homology dimension (the public code is 2D; a 3D port
    keeps only dimension 0); no padding at all (the public 2D code pads prediction and target differently for
    square images); probabilities, not logits, enter the diagrams. Essential classes: see ``essential_death``.

    Reference: "Topology-Preserving Image Segmentation with Spatial-Aware Persistent Feature Matching", ICCV 2025.

    Example:
        >>> loss = SpatialAwareMatchingLoss()  # logits in (sigmoid by default)
        >>> x = torch.randn(2, 1, 32, 32, requires_grad=True); y = (torch.rand(2, 1, 32, 32) > 0.5).float()
        >>> loss(x, y).backward()
    """

    @renamed_arguments(threshold="min_persistence")
    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool | None = None,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: LossReduction | str = LossReduction.MEAN,
        dims: Sequence[int] | int | None = None,
        connectivity: int | None = None,
        min_persistence: float = 0.0,
        prune_factor: float | None = 2.0,
        prune_min: int = 64,
        candidates_per_target: int = 32,
        min_factor: float = 0.05,
        max_factor: float = 1.0,
        patch_size: int | Sequence[int] | None = None,
        num_patches: int | None = None,
        seed: int | None = 0,
        num_workers: int | None = None,
        essential_death: str = "zero",
    ) -> None:
        """
        Args:
            include_background, to_onehot_y, softmax, other_act: as ``monai.losses.DiceLoss``.
            sigmoid: ``None`` (default): the input holds logits and a sigmoid is applied, unless ``softmax`` or
                ``other_act`` is given; ``False``: the input holds probabilities in [0, 1].
            reduction: ``"none"`` (a ``(B, C, 1, ..., 1)`` tensor, as ``DiceLoss``), ``"mean"`` or ``"sum"``.
            dims: homology dimensions (default all: 0, 1 in 2D; 0, 1, 2 in 3D).
            connectivity: foreground connectivity, ``None``/8/26 (T-construction, default) or 4/6.
            min_persistence: points (of prediction and target) with persistence ``<= min_persistence`` are
                ignored. (Was ``threshold``, deprecated.)
            prune_factor: ``K`` per target point for the pruning (``None``: exact OT on all points).
            prune_min: floor added to ``K``.
            candidates_per_target: spatially cheapest candidates kept per target point (exact if ``>= m``).
            min_factor, max_factor: clamp of the spatial factor (paper: 0.05 and 1).
            patch_size, num_patches, seed: windows, as :class:`PersistenceMatchingLoss` (default whole image).
            num_workers: threads (default: one per CPU core).
            essential_death: ``"zero"`` (default) or ``"min"``, see :mod:`monai_topo.losses.persistence`.

        Raises:
            TypeError: when ``other_act`` is not callable.
            ValueError: for incompatible activations or invalid options.
        """
        super().__init__(
            include_background=include_background,
            to_onehot_y=to_onehot_y,
            sigmoid=sigmoid,
            softmax=softmax,
            other_act=other_act,
            reduction=reduction,
            dims=dims,
            connectivity=connectivity,
            min_persistence=min_persistence,
            patch_size=patch_size,
            num_patches=num_patches,
            seed=seed,
            num_workers=num_workers,
            essential_death=essential_death,
        )
        if prune_factor is not None and (not np.isfinite(prune_factor) or prune_factor < 0):
            raise ValueError(f"prune_factor must be None (no pruning) or a finite number >= 0, got {prune_factor}.")
        for name, value in (("prune_min", prune_min), ("candidates_per_target", candidates_per_target)):
            if not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}.")
        if not (0 <= min_factor <= max_factor) or not np.isfinite(max_factor) or max_factor <= 0:
            raise ValueError(f"need 0 <= min_factor <= max_factor (finite, > 0), got {min_factor}, {max_factor}.")
        self.prune_factor = None if prune_factor is None else float(prune_factor)
        self.prune_min = int(prune_min)
        self.candidates_per_target = int(candidates_per_target)
        self.min_factor = float(min_factor)
        self.max_factor = float(max_factor)
        #: statistics of the last forward call, summed over items and dimensions: ``"points"`` (prediction points
        #: after the ``min_persistence`` cut) and ``"points_in_ot"`` (those that entered an OT after pruning; dimensions without
        #: target points need no OT).
        self.last_num_points: dict[str, int] = {}

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: logits (or probabilities without activation) ``B C H W [D]``.
            target: ``B C H W [D]`` (binary or soft) or ``B 1 H W [D]`` labels with ``to_onehot_y=True``.

        Returns:
            the reduced loss, or a ``(B, C, 1, ..., 1)`` tensor with ``reduction="none"``.

        Raises:
            ValueError: for mismatched shapes, non-finite values, target values outside [0, 1] (after the one-hot
                conversion), logits with ``sigmoid=False``, or options invalid for the input's dimension.
        """
        return self._run(input, target)

    def _check_target(self, target: torch.Tensor) -> None:
        lo, hi = float(target.detach().min()), float(target.detach().max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{type(self).__name__} needs a binary or soft target in [0, 1], found values in [{lo:.4g}, "
                f"{hi:.4g}]; pass class labels with to_onehot_y=True (and a multi-channel input)."
            )

    def _target_points(self, target: np.ndarray, dims: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Diagram of the target, computed on the bounding box of ``target > min(target)`` plus a one-voxel margin.

        The crop is exact for the values: every superlevel set above the minimum lies inside the box, and unless
        the box is the whole window the margin contains a minimum voxel, so the last level (where everything
        dies) is the same. For a binary target occupying a fraction of the volume this makes the target diagram
        much cheaper than the prediction's. Only the choice among tied critical voxels may differ.
        """
        lo = target.min()
        support = np.nonzero(target > lo)
        if support[0].size == 0:
            window = tuple(slice(0, 1) for _ in target.shape)  # constant target: one essential class
        else:
            window = tuple(
                slice(max(int(ax.min()) - 1, 0), min(int(ax.max()) + 2, size))
                for ax, size in zip(support, target.shape)
            )
        dgm = compute_persistence(
            target[window], filtration="superlevel", connectivity=self.connectivity, maxdim=max(dims)
        )
        deaths = dgm.deaths.copy()
        if self.essential_death == "zero":
            deaths[dgm.essential] = 0.0
        keep = np.isin(dgm.dims, dims) & ((dgm.births - deaths) > self.min_persistence)
        points = np.stack([dgm.births[keep], deaths[keep]], axis=1)
        coords = dgm.birth_coords[keep] + np.array([w.start for w in window], np.int64)
        return dgm.dims[keep], points, normalize_locations(coords, target.shape)

    def _process_item(self, pred: np.ndarray, target: np.ndarray | None, item: WorkItem, dims: tuple[int, ...]) -> Any:
        points = self._diagram_points(pred, item, dims, with_locations=True)
        t_dims, t_points, t_locs = self._target_points(target, dims)
        pair_rows, pair_tb, pair_td, pair_w, diag_rows, diag_w = [], [], [], [], [], []
        constant, kept = 0.0, 0
        for k in dims:
            rows = np.flatnonzero(points.dims == k)
            cols = np.flatnonzero(t_dims == k)
            res = spatial_aware_matching(
                np.stack([points.births[rows], points.deaths[rows]], axis=1),
                points.locations[rows],
                t_points[cols],
                t_locs[cols],
                prune_factor=self.prune_factor,
                prune_min=self.prune_min,
                candidates_per_target=self.candidates_per_target,
                min_factor=self.min_factor,
                max_factor=self.max_factor,
            )
            kept += res.kept.shape[0]
            pair_rows.append(rows[res.pair_pred])
            pair_tb.append(t_points[cols[res.pair_target], 0])
            pair_td.append(t_points[cols[res.pair_target], 1])
            pair_w.append(res.pair_weight * res.pair_factor)
            diag_rows.append(rows[res.pred_diagonal])
            diag_w.append(res.pred_diagonal_weight)
            tp = t_points[cols[res.target_diagonal]]
            constant += float(np.sum(res.target_diagonal_weight * np.abs(tp[:, 0] - tp[:, 1]))) / math.sqrt(2.0)
        cat = np.concatenate
        return _SATItem(
            pairs=points.select(cat(pair_rows)),
            target_births=cat(pair_tb),
            target_deaths=cat(pair_td),
            pair_weights=cat(pair_w),
            diagonal=points.select(cat(diag_rows)),
            diagonal_weights=cat(diag_w),
            constant=constant,
            num_points=len(points.dims),
            num_points_in_ot=kept,
        )

    def _item_losses(
        self, p_flat: torch.Tensor, items: Sequence[WorkItem], results: Sequence[Any], num_items: int
    ) -> torch.Tensor:
        ndim = len(items[0].spatial_shape)
        device, dtype = p_flat.device, p_flat.dtype
        run_items = [it.item for it in items]

        def const(arrays: list[np.ndarray]) -> torch.Tensor:
            return torch.as_tensor(np.concatenate(arrays), dtype=dtype, device=device)

        pair_points = DiagramPoints.concatenate([r.pairs for r in results], ndim)
        b, d = self._gather(p_flat, pair_points)
        tb, td = const([r.target_births for r in results]), const([r.target_deaths for r in results])
        pair_cost = const([r.pair_weights for r in results]) * _safe_norm(b - tb, d - td)
        per_item = self._segment_sum(pair_cost, run_items, [len(r.target_births) for r in results], num_items)

        diag_points = DiagramPoints.concatenate([r.diagonal for r in results], ndim)
        b, d = self._gather(p_flat, diag_points)
        diag_cost = const([r.diagonal_weights for r in results]) * torch.abs(b - d) / math.sqrt(2.0)
        diag_lengths = [len(r.diagonal_weights) for r in results]
        per_item = per_item + self._segment_sum(diag_cost, run_items, diag_lengths, num_items)

        constant = np.zeros(num_items)
        np.add.at(constant, run_items, [r.constant for r in results])
        self.last_num_points = {
            "points": int(sum(r.num_points for r in results)),
            "points_in_ot": int(sum(r.num_points_in_ot for r in results)),
        }
        return per_item + torch.as_tensor(constant, dtype=dtype, device=device)
