"""Skeleton Recall loss: soft recall of the prediction on a tubed skeleton of the target.

Reference: Y. Kirchhoff, M. R. Rokuss, S. Roy, B. Kovacs, C. Ulrich, T. Wald, M. Zenk, P. Vollmuth, J. Kleesiek,
F. Isensee, K. Maier-Hein, "Skeleton Recall Loss for Connectivity Conserving and Resource Efficient Segmentation of
Thin Tubular Structures", ECCV 2024 (arXiv:2404.03010).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import LossReduction

from monai_topo.losses.base import TopologyLoss
from monai_topo.losses.utils import reduce_per_item
from monai_topo.topology.skeleton import check_tube_radius, tubed_skeletons
from monai_topo.topology.validation import check_num_workers

__all__ = ["SkeletonRecallLoss"]

_EPS = 1e-8  # floor of the denominator, as in the paper's code


def _check_binary(tensor: torch.Tensor, what: str) -> None:
    """Raise a ``ValueError`` naming ``what`` unless ``tensor`` holds only 0 and 1 (NaN fails too).

    Two reductions and no boolean copies: the range (``aminmax``; a NaN makes it fail) and, for floating values, the
    dot product of ``t`` and ``1 - t``: a sum of terms ``t * (1 - t)`` that are >= 0 in [0, 1] and 0 only at 0 and 1.
    """
    if tensor.dtype == torch.bool:
        return
    values = tensor.detach()
    if values.dtype in (torch.float16, torch.bfloat16):
        values = values.float()
    low, high = (float(v) for v in torch.aminmax(values))
    binary = low >= 0.0 and high <= 1.0
    if binary and values.is_floating_point():
        flat = values.reshape(-1)
        binary = float(torch.dot(flat, 1 - flat)) == 0.0
    if not binary:
        raise ValueError(f"{what}, found values in [{low:.4g}, {high:.4g}] (not only 0 and 1).")


class SkeletonRecallLoss(TopologyLoss):
    """``1 - soft recall`` of the prediction on a thin tube around the target's skeleton, per sample and class.

    Kirchhoff et al. (ECCV 2024). For sample ``b`` and class ``c``, with probabilities ``p`` and the tubed skeleton
    ``S`` of the target (a binary mask, see :func:`monai_topo.topology.tubed_skeleton`),

    ``loss[b, c] = 1 - (sum_i S[b, c, i] * p[b, c, i] + smooth) / (sum_i S[b, c, i] + smooth)``.

    The paper's code returns ``-recall`` (the same up to the constant 1, so the same gradient); ``1 - recall`` is
    non-negative and 0 for a perfect prediction. A class whose tube is empty (absent from the patch) costs exactly 0
    and has a zero gradient, for any ``smooth`` >= 0 (never NaN); ``"mean"`` averages over all ``B x C`` items,
    empty ones included, as the paper's code and ``DiceLoss`` do. With ``batch=True`` the sums run over the batch
    too (the paper's ``batch_dice``), as in ``DiceLoss``.

    **The paper's setting** (its nnU-Net trainer, ``nnUNetTrainerSkeletonRecall``): the loss is added to Dice +
    cross-entropy with weight 1 (Dice 1, CE 1, skeleton recall 1), on softmax probabilities; Dice and skeleton recall
    leave the background class out (``include_background=False``; the cross-entropy uses every class, as MONAI's
    ``DiceCELoss`` does), both smooth with ``1e-5`` (MONAI's default) and both use nnU-Net's ``batch_dice``:
    ``batch=True`` for 2D and for 3D full resolution when the plans have a low-resolution stage (large images),
    ``batch=False`` for 3D full resolution without one and for 3D low resolution. The tube is the skeleton dilated
    twice with the face-connected cross (city-block radius 2, ``tube_radius=2``) and kept inside the class's mask.
    In MONAI terms (``batch=True``; set both to ``False`` where nnU-Net would), ``paper`` in the example below.

    **Classes.** The paper skeletonises the union of the foreground classes and gives each tube voxel the class
    under it; here each class is skeletonised on its own. The two tubes are the same when the classes are more
    than 2 voxels apart: any two voxels of different classes at a city-block distance above ``tube_radius`` (2)
    and not touching diagonally (8-/26-adjacent), unless a class's whole mask thins away (see below: its mask here,
    nothing in the paper). Closer classes share the union's skeleton there, and each other's tube.

    **Empty skeletons.** scikit-image's thinning can remove a whole object. In 3D (Lee's method) it does so for
    many boxes with an even side whatever their length (cross-sections ``2 x 2``, ``4 x 4``, ``6 x 6``, ``1 x 4``,
    ``3 x 6``, ...: a thick straight vessel), every cube of even side (``8 x 8 x 8``) and a patch that is entirely
    foreground (``16 x 16 x 16``): large structures, not only specks (a box with odd sides keeps its axis). The
    fallback of :func:`monai_topo.topology.skeleton` applies per mask (one sample x class item), not per object:
    when a whole mask thins to nothing its tube is the whole mask and the term becomes ``1 - soft recall`` of the
    mask; when only some of its objects vanish, those get no tube at all (as in the paper's code, which has no
    fallback: there a mask that thins to nothing has an empty tube and costs 0).

    **How the tube reaches the loss.** ``forward(input, target)`` builds it from the target at each call: the
    (one-hot, background-removed) target is copied to the CPU, every sample x class item is skeletonised and
    dilated on a thread pool (:func:`monai_topo.topology.skeleton.tubed_skeletons`), and the tube is moved to the
    input's device; this works unchanged inside :class:`monai_topo.losses.TopologyAwareLoss` and MONAI's
    ``SupervisedTrainer``, which call ``loss(pred, label)``. To take this off the training step, build the tube in
    the data pipeline with :class:`monai_topo.transforms.SkeletonTubed` (the paper's way: in the data loader
    workers, after the spatial augmentation) and pass it: ``loss(pred, batch["label"],
    skeleton=batch["label_skel"])``.

    **Activation** (as every monai_topo loss, see :class:`monai_topo.losses.base.TopologyLoss`). ``input`` holds
    logits by default: ``sigmoid=True`` unless ``softmax`` or ``other_act`` is given (the paper uses
    ``softmax=True``). ``sigmoid=False`` with no other activation means ``input`` already holds probabilities, which
    must lie in [0, 1].

    Example:
        >>> loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> logits = torch.randn(2, 3, 16, 16, 16, requires_grad=True)
        >>> label = torch.randint(0, 3, (2, 1, 16, 16, 16)).float()
        >>> value = loss(logits, label)
        >>> value.backward()
        >>> 0.0 <= value.item() <= 1.0
        True
        >>> from monai.losses import DiceCELoss
        >>> from monai_topo.losses import TopologyAwareLoss
        >>> paper = TopologyAwareLoss(
        ...     DiceCELoss(softmax=True, to_onehot_y=True, include_background=False, batch=True),
        ...     SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False, batch=True),
        ...     lambda_topology=1.0,
        ... )
        >>> bool(paper(logits, label) > 0)
        True
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool | None = None,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: LossReduction | str = LossReduction.MEAN,
        batch: bool = False,
        smooth: float = 1e-5,
        tube_radius: int = 2,
        restrict_to_mask: bool = True,
        num_workers: int | None = None,
    ) -> None:
        """
        Args:
            include_background: if False, channel 0 (background) is excluded, as in ``monai.losses.DiceLoss``
                (the paper excludes it).
            to_onehot_y: convert a ``B 1 ...`` class-label target to one-hot with ``input.shape[1]`` classes.
            sigmoid: ``input`` holds logits for a sigmoid. ``None`` (default): True unless ``softmax`` or
                ``other_act`` is given. ``False``: ``input`` already holds probabilities in [0, 1].
            softmax: apply a softmax over the channels (the paper's choice).
            other_act: another activation mapping to [0, 1]; exclusive with ``sigmoid`` / ``softmax``.
            reduction: ``"mean"`` (default) or ``"sum"`` over the ``B x C`` items, or ``"none"``: a
                ``(B, C, 1, ..., 1)`` tensor (``(C, 1, ..., 1)`` with ``batch=True``), like ``DiceLoss``.
            batch: sum the intersection and the tube over the batch before the ratio (the paper's ``batch_dice``).
            smooth: added to the numerator and the denominator (>= 0; the paper's trainer uses ``1e-5``).
            tube_radius: half width of the tube in voxels when the loss builds it (city-block; ``0``: the bare
                skeleton; the paper's is 2).
            restrict_to_mask: keep the tube inside the target's mask when the loss builds it (the paper's choice).
            num_workers: threads that build the tube; ``None`` = one per CPU core (at most one per item),
                ``0``/``1``: serial.

        Raises:
            TypeError: when ``other_act`` is not callable.
            ValueError: for more than one activation, a negative ``smooth`` or ``tube_radius``, bad
                ``num_workers``, or an unknown ``reduction``.
        """
        super().__init__(
            include_background=include_background,
            to_onehot_y=to_onehot_y,
            sigmoid=sigmoid,
            softmax=softmax,
            other_act=other_act,
            reduction=reduction,
        )
        if not float(smooth) >= 0.0:
            raise ValueError(f"smooth must be >= 0, got {smooth}.")
        self.batch = bool(batch)
        self.smooth = float(smooth)
        self.tube_radius = check_tube_radius(tube_radius, "tube_radius")
        self.restrict_to_mask = bool(restrict_to_mask)
        self.num_workers = check_num_workers(num_workers)

    def _check_target(self, target: torch.Tensor) -> None:
        """The prepared target must be binary: the tube is built from it."""
        _check_binary(
            target,
            "SkeletonRecallLoss needs a binary target (0/1 per class) to build the tube from: one-hot encode class "
            "labels (to_onehot_y=True)",
        )

    def _check_skeleton(self, skeleton: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """A given tube: a tensor of the prepared target's shape holding only 0 and 1."""
        if isinstance(skeleton, np.ndarray):
            skeleton = torch.from_numpy(skeleton)
        if not isinstance(skeleton, torch.Tensor):
            raise TypeError(f"skeleton must be a torch.Tensor (or None), got {type(skeleton).__name__}.")
        if isinstance(skeleton, MetaTensor):
            skeleton = skeleton.as_tensor()
        skeleton = skeleton.detach()
        if skeleton.shape != shape:
            raise ValueError(
                f"skeleton must have the shape of the target after one-hot encoding and background removal "
                f"{tuple(shape)}, got {tuple(skeleton.shape)}; build it with SkeletonTubed using the loss's "
                "include_background (and num_classes = the number of input channels when to_onehot_y=True)."
            )
        _check_binary(skeleton, "skeleton must be a binary tube mask (0/1)")
        return skeleton

    @torch.no_grad()
    def tube(self, target: torch.Tensor) -> torch.Tensor:
        """The tubed skeleton of a prepared (one-hot, background-removed) binary target, on the target's device.

        Args:
            target: ``B C H W [D]`` binary tensor.

        Returns:
            bool tensor of ``target``'s shape.

        Raises:
            ValueError: for a target that is not binary.
        """
        if isinstance(target, MetaTensor):
            target = target.as_tensor()
        self._check_target(target.detach())
        return self._build_tube(target.detach())

    def _build_tube(self, target: torch.Tensor) -> torch.Tensor:
        """:meth:`tube` of a checked binary target."""
        masks = (target != 0).cpu().numpy()
        tubes = tubed_skeletons(
            masks,
            spatial_dims=target.ndim - 2,
            radius=self.tube_radius,
            restrict_to_mask=self.restrict_to_mask,
            num_workers=self.num_workers,
        )
        return torch.from_numpy(tubes).to(target.device, non_blocking=True)

    @torch.no_grad()
    def check_inputs(self, input: torch.Tensor, target: torch.Tensor, skeleton: torch.Tensor | None = None) -> None:
        """Run the input checks of :meth:`forward` without building a tube or a graph.

        Raises:
            TypeError / ValueError: as :meth:`forward` would.
        """
        pred, _ = self._prepare(input, target, target_values=skeleton is None)
        if skeleton is not None:
            self._check_skeleton(skeleton, pred.shape)

    def forward(self, input: torch.Tensor, target: torch.Tensor, skeleton: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            input: ``B C H W [D]`` logits (or probabilities with ``sigmoid=False``).
            target: ``B C H W [D]`` binary / one-hot (0/1), or ``B 1 H W [D]`` class labels with ``to_onehot_y=True``.
            skeleton: the tubed skeleton, a binary tensor shaped like the target after one-hot encoding and
                background removal (``B C' H W [D]``), e.g. ``batch["label_skel"]`` from
                :class:`monai_topo.transforms.SkeletonTubed`; ``None`` (default): built from ``target`` here.
                Given, it replaces the target's values: the target's shape is checked, its values are not read
                (no one-hot copy), and the tube is checked once (range and 0/1 values, two reductions).

        Returns:
            a scalar (``"mean"`` / ``"sum"``), or ``(B, C', 1, ..., 1)`` (``"none"``; ``(C', 1, ..., 1)`` with
            ``batch=True``).

        Raises:
            TypeError / ValueError: for mismatched shapes, non-finite logits, probabilities outside [0, 1] when
                expected, a non-binary target (soft labels: the tube needs a mask), or a skeleton of the wrong shape
                or not binary.
        """
        # each tensor is checked once: the logits and the target (labels, or a binary target) when the tube is built
        # here; with a given tube, the logits, the target's shape and the tube
        pred, target = self._prepare(input, target, target_values=skeleton is None)
        if pred.dtype not in (torch.float32, torch.float64):
            pred = pred.float()
        if skeleton is None:
            with torch.no_grad():
                tube = self._build_tube(target.detach())
        else:
            tube = self._check_skeleton(skeleton, pred.shape).to(pred.device, non_blocking=True)
        tube = tube.to(pred.dtype)

        axes = list(range(2, pred.ndim))
        if self.batch:
            axes = [0] + axes
        inside = (tube * pred).sum(axes)
        size = tube.sum(axes)
        # 1 - (inside + smooth) / (size + smooth), written so that an empty tube gives 0/(smooth) = 0, never 0/0
        f = (size - inside) / torch.clamp(size + self.smooth, min=_EPS)

        return reduce_per_item(f, self.reduction, pred.ndim - 2)
