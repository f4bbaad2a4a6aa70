"""Hu et al.'s persistence-diagram matching loss (NeurIPS 2019), in probability space, 2D and 3D."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from monai.utils import LossReduction

from monai_topo.losses.persistence import ItemResult, PersistenceLossBase, WorkItem
from monai_topo.topology import betti_numbers
from monai_topo.topology.matching import HU_MATCHING_METHODS, hu_matching
from monai_topo.topology.validation import renamed_arguments

__all__ = ["PersistenceMatchingLoss"]


class PersistenceMatchingLoss(PersistenceLossBase):
    """Topological loss of Hu et al.: match the prediction's persistence diagram to the target's.

    Per sample, foreground channel and window (whole image, tiles or random patches), for each homology
    dimension ``k`` in ``dims``:

    1. the superlevel persistence diagram of the probabilities ``p`` (cubical, T-construction by default);
    2. the target diagram: a binary target (0/1 values; anything else is a ``ValueError``) has ``beta_k(y)``
       points, all at the perfect corner ``(1, 0)`` (its Betti numbers, same connectivity);
    3. ``beta_k(y)`` prediction points are matched to the corner (``matching``, see
       :func:`monai_topo.topology.matching.hu_matching`), all others to the diagonal;
    4. ``loss = sum_matched (p[birth] - 1)^2 + p[death]^2 + sum_unmatched (p[birth] - p[death])^2 / 2``
       ``+ (number of target points left without a partner) / 2``.

    The unmatched term is the squared distance to the diagonal; its gradient equals Hu's force that pushes both
    critical values to their mean. The last term is a constant (no gradient) that makes the value the squared
    2-Wasserstein distance when ``matching="wasserstein"``. Gradients reach exactly the critical voxels
    (``p.reshape(-1)[index]`` is gathered from the graph); everything else is numpy on a thread pool.

    Unlike one public reference, the comparison is made in probability space: targets are ``(1, 0)`` for ``p``,
    not ``1 - p`` values compared with logits. Essential classes: see ``essential_death`` (default: the
    component that never dies has death 0, a constant, so a window inside the object predicted as all-ones costs
    nothing). The per-item loss is the sum over dimensions and windows (a tiled image sums like the whole image).

    Hu et al. pre-train with cross-entropy and then add this loss with a small weight; use
    ``monai_topo.losses.TopologyAwareLoss`` (base loss + weight + warm-up) for that.

    Reference: Hu, Li, Samaras, Chen, "Topology-Preserving Deep Image Segmentation", NeurIPS 2019.

    Example:
        >>> loss = PersistenceMatchingLoss(patch_size=32, num_patches=4)  # logits in (sigmoid by default)
        >>> x = torch.randn(2, 1, 48, 48, requires_grad=True); y = (torch.rand(2, 1, 48, 48) > 0.5).float()
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
        matching: str = "persistence",
        patch_size: int | Sequence[int] | None = None,
        num_patches: int | None = None,
        seed: int | None = 0,
        num_workers: int | None = None,
        essential_death: str = "zero",
    ) -> None:
        """
        Args:
            include_background: if False, channel 0 (background) is excluded.
            to_onehot_y: convert a ``B 1 ...`` label target to one-hot with ``input.shape[1]`` classes.
            sigmoid: ``None`` (default): the input holds logits and a sigmoid is applied, unless ``softmax`` or
                ``other_act`` is given; ``False``: the input holds probabilities in [0, 1].
            softmax: apply a softmax over channels.
            other_act: another activation callable, e.g. ``torch.tanh`` (must map to [0, 1]).
            reduction: ``"none"`` (a ``(B, C, 1, ..., 1)`` tensor, as ``DiceLoss``), ``"mean"`` or ``"sum"`` over
                samples and channels.
            dims: homology dimensions to match (default all: 0, 1 in 2D; 0, 1, 2 in 3D).
            connectivity: foreground connectivity, ``None``/8/26 (T-construction, default) or 4/6; the same is
                used for the target's Betti numbers.
            min_persistence: prediction points with persistence ``<= min_persistence`` are ignored (neither
                matched nor pushed); 0 keeps every point. (Was ``threshold``, deprecated.)
            matching: ``"persistence"`` (Hu's code: the most persistent points are matched), ``"corner"``
                (closest to ``(1, 0)``) or ``"wasserstein"`` (exact W2 optimum; weak points may stay unmatched).
            patch_size: ``None`` for the whole image, or a window size (int or per-axis tuple; clipped to the
                image). With ``num_patches=None`` the image is tiled; otherwise random windows are drawn.
            num_patches: number of random windows per sample and call (Hu samples dense overlapping 65x65
                patches in 2D; 32^3-64^3 is typical in 3D).
            seed: seed of the patch generator; it advances at every call (fresh patches, reproducible sequence).
                See :meth:`set_random_state`.
            num_workers: threads for the diagrams (default: one per CPU core).
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
        if matching not in HU_MATCHING_METHODS:
            raise ValueError(f"matching must be one of {HU_MATCHING_METHODS}, got {matching!r}.")
        self.matching = matching

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: logits (or probabilities without activation) ``B C H W [D]``.
            target: ``B C H W [D]`` binary (one-hot) or ``B 1 H W [D]`` labels with ``to_onehot_y=True``.

        Returns:
            the reduced loss, or a ``(B, C, 1, ..., 1)`` tensor with ``reduction="none"``.

        Raises:
            ValueError: for mismatched shapes, non-finite values, a target that is not binary (after the one-hot
                conversion), logits with ``sigmoid=False``, or options invalid for the input's dimension.
        """
        return self._run(input, target)

    def _check_target(self, target: torch.Tensor) -> None:
        if not bool(((target == 0) | (target == 1)).all()):
            values = torch.unique(target.detach()[(target != 0) & (target != 1)])[:5].tolist()
            raise ValueError(
                f"{type(self).__name__} needs a binary (0/1, one-hot) target, found values such as {values}; threshold a "
                "soft target first (target > 0.5), pass class labels with to_onehot_y=True, or use "
                "SpatialAwareMatchingLoss, which accepts soft targets."
            )

    def _process_item(self, pred: np.ndarray, target: np.ndarray | None, item: WorkItem, dims: tuple[int, ...]) -> Any:
        points = self._diagram_points(pred, item, dims)
        mask = target > 0.5
        betti = betti_numbers(mask, self.connectivity)
        if self.essential_death == "min" and mask.all():
            betti[0] = 0  # the target's only component has zero persistence in this convention
        matched = np.zeros(len(points.dims), bool)
        missing = 0
        for k in dims:
            rows = np.flatnonzero(points.dims == k)
            m, _ = hu_matching(points.births[rows], points.deaths[rows], int(betti[k]), self.matching)
            matched[rows[m]] = True
            if self.matching != "wasserstein":
                missing += max(int(betti[k]) - rows.shape[0], 0)
            else:
                missing += int(betti[k]) - m.shape[0]
        return ItemResult(points, matched, missing / 2.0)

    def _item_losses(
        self, p_flat: torch.Tensor, items: Sequence[WorkItem], results: Sequence[Any], num_items: int
    ) -> torch.Tensor:
        def cost(births: torch.Tensor, deaths: torch.Tensor, matched: torch.Tensor) -> torch.Tensor:
            return torch.where(matched, (births - 1.0) ** 2 + deaths**2, (births - deaths) ** 2 / 2.0)

        return self._flagged_item_losses(p_flat, items, results, num_items, cost)
