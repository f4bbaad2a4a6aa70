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
from torch.nn.modules.loss import _Loss

from monai_topo.losses.utils import check_loss_options, prepare_prediction_and_target
from monai_topo.topology.skeleton import tubed_skeletons

__all__ = ["SkeletonRecallLoss"]

_EPS = 1e-8  # floor of the denominator, as in the paper's code


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    """A MetaTensor as a plain tensor (graph kept); anything else unchanged."""
    return tensor.as_tensor() if isinstance(tensor, MetaTensor) else tensor


class SkeletonRecallLoss(_Loss):
    """``1 - soft recall`` of the prediction on a thin tube around the target's skeleton, per sample and class.

    Kirchhoff et al. (ECCV 2024). For sample ``b`` and class ``c``, with probabilities ``p`` and the tubed skeleton
    ``S`` of the target (a binary mask, see :func:`monai_topo.topology.tubed_skeleton`),

    ``loss[b, c] = 1 - (sum_i S[b, c, i] * p[b, c, i] + smooth) / (sum_i S[b, c, i] + smooth)``.

    The paper's code returns ``-recall`` (the same up to the constant 1, so the same gradient); ``1 - recall`` is
    non-negative and 0 for a perfect prediction. A class whose tube is empty (absent from the patch) costs exactly 0
    and has a zero gradient, for any ``smooth`` >= 0 (never NaN); ``"mean"`` averages over all ``B x C`` items,
    empty ones included, as the paper's code and ``DiceLoss`` do. With ``batch=True`` the sums run over the batch
    too (the paper's ``batch_dice``), as in ``DiceLoss``.

    **The paper's setting** (its nnU-Net trainer): the loss is added to Dice + cross-entropy with weight 1 (Dice 1,
    CE 1, skeleton recall 1), on softmax probabilities without the background class, ``smooth=1e-5``; the tube is
    the skeleton dilated twice with the face-connected cross (city-block radius 2, ``tube_radius=2``) and kept
    inside the class's mask. In MONAI terms::

        TopologyAwareLoss(DiceCELoss(softmax=True, to_onehot_y=True),
                          SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False),
                          lambda_topology=1.0)

    (the paper skeletonises the union of the foreground classes and gives each tube voxel the class under it; here
    each class is skeletonised on its own, which is the same for classes that do not touch.)

    **How the tube reaches the loss.** ``forward(input, target)`` builds it from the target at each call: the
    (one-hot, background-removed) target is copied to the CPU, every sample x class item is skeletonised and
    dilated on a thread pool (:func:`monai_topo.topology.tubed_skeletons`), and the tube is moved to the
    input's device; this works unchanged inside :class:`monai_topo.losses.TopologyAwareLoss` and MONAI's
    ``SupervisedTrainer``, which call ``loss(pred, label)``. To take this off the training step, build the tube in
    the data pipeline with :class:`monai_topo.transforms.SkeletonTubed` (the paper's way: in the data loader
    workers, after the spatial augmentation) and pass it: ``loss(pred, batch["label"],
    skeleton=batch["label_skel"])``.

    **Activation.** ``input`` holds logits by default: ``sigmoid=True`` unless ``softmax`` or ``other_act`` is
    given (the paper uses ``softmax=True``). ``sigmoid=False`` with no other activation means ``input`` already
    holds probabilities, which must lie in [0, 1].

    Example:
        >>> loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
        >>> logits = torch.randn(2, 3, 16, 16, 16, requires_grad=True)
        >>> label = torch.randint(0, 3, (2, 1, 16, 16, 16)).float()
        >>> value = loss(logits, label)
        >>> value.backward()
        >>> 0.0 <= float(value) <= 1.0
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
        super().__init__(reduction=LossReduction(reduction).value)
        if sigmoid is None:
            sigmoid = not softmax and other_act is None
        check_loss_options(bool(sigmoid), softmax, other_act)
        if not float(smooth) >= 0.0:
            raise ValueError(f"smooth must be >= 0, got {smooth}.")
        if isinstance(tube_radius, bool) or not isinstance(tube_radius, (int, np.integer)) or tube_radius < 0:
            raise ValueError(f"tube_radius must be a non-negative int (voxels), got {tube_radius!r}.")
        if num_workers is not None and (
            isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0
        ):
            raise ValueError(f"num_workers must be None (one thread per CPU core) or an int >= 0, got {num_workers!r}.")
        self.include_background = include_background
        self.to_onehot_y = to_onehot_y
        self.sigmoid = bool(sigmoid)
        self.softmax = softmax
        self.other_act = other_act
        self.batch = batch
        self.smooth = float(smooth)
        self.tube_radius = int(tube_radius)
        self.restrict_to_mask = restrict_to_mask
        self.num_workers = num_workers

    def _prepare(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MONAI input handling (``DiceLoss``'s order) and the probability check; returns ``(p, target)``."""
        pred, target = prepare_prediction_and_target(
            _plain(input),
            _plain(target),
            include_background=self.include_background,
            to_onehot_y=self.to_onehot_y,
            sigmoid=self.sigmoid,
            softmax=self.softmax,
            other_act=self.other_act,
        )
        if not (self.sigmoid or self.softmax):
            with torch.no_grad():
                low, high = (float(v) for v in torch.aminmax(pred.detach().float()))
            if low < 0.0 or high > 1.0:
                source = "other_act produced" if self.other_act is not None else "the input holds"
                raise ValueError(
                    f"SkeletonRecallLoss needs probabilities in [0, 1], but {source} values in [{low:.4g}, "
                    f"{high:.4g}]: pass logits with sigmoid=True (the default), or set softmax=True."
                )
        if pred.dtype not in (torch.float32, torch.float64):
            pred = pred.float()  # half-precision sums over a volume lose the recall's resolution
        return pred, target

    def _check_skeleton(self, skeleton: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """A given tube: a tensor of the prepared target's shape holding only 0 and 1."""
        if isinstance(skeleton, np.ndarray):
            skeleton = torch.from_numpy(skeleton)
        if not isinstance(skeleton, torch.Tensor):
            raise TypeError(f"skeleton must be a torch.Tensor (or None), got {type(skeleton).__name__}.")
        skeleton = _plain(skeleton).detach()
        if skeleton.shape != shape:
            raise ValueError(
                f"skeleton must have the shape of the target after one-hot encoding and background removal "
                f"{tuple(shape)}, got {tuple(skeleton.shape)}; build it with SkeletonTubed using the loss's "
                "include_background (and num_classes = the number of input channels when to_onehot_y=True)."
            )
        if skeleton.dtype != torch.bool and not bool(((skeleton == 0) | (skeleton == 1)).all()):
            raise ValueError("skeleton must be a binary tube mask (0/1), found other values (or NaN).")
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
        target = _plain(target).detach()
        if target.dtype != torch.bool and not bool(((target == 0) | (target == 1)).all()):
            low, high = (float(v) for v in torch.aminmax(target.float()))
            raise ValueError(
                f"SkeletonRecallLoss builds the tube from a binary target (0/1 per class), found values in "
                f"[{low:.4g}, {high:.4g}]: one-hot encode class labels (to_onehot_y=True) or pass skeleton=."
            )
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
            TypeError / ValueError: as :meth:`forward` would (except for a non-binary target, checked when the tube
                is built).
        """
        _, target = self._prepare(input, target)
        if skeleton is not None:
            self._check_skeleton(skeleton, target.shape)

    def forward(self, input: torch.Tensor, target: torch.Tensor, skeleton: torch.Tensor | None = None) -> torch.Tensor:
        """
        Args:
            input: ``B C H W [D]`` logits (or probabilities with ``sigmoid=False``).
            target: ``B C H W [D]`` binary / one-hot, or ``B 1 H W [D]`` class labels with ``to_onehot_y=True``.
            skeleton: the tubed skeleton, a binary tensor shaped like the target after one-hot encoding and
                background removal (``B C' H W [D]``), e.g. ``batch["label_skel"]`` from
                :class:`monai_topo.transforms.SkeletonTubed`; ``None`` (default): built from ``target`` here.

        Returns:
            a scalar (``"mean"`` / ``"sum"``), or ``(B, C', 1, ..., 1)`` (``"none"``; ``(C', 1, ..., 1)`` with
            ``batch=True``).

        Raises:
            TypeError / ValueError: for mismatched shapes, non-finite logits, probabilities outside [0, 1], a
                non-binary target (when the tube is built here), or a skeleton of the wrong shape or not binary.
        """
        pred, target = self._prepare(input, target)
        if skeleton is None:
            tube = self.tube(target)
        else:
            tube = self._check_skeleton(skeleton, target.shape).to(pred.device, non_blocking=True)
        tube = tube.to(pred.dtype)

        axes = list(range(2, pred.ndim))
        if self.batch:
            axes = [0] + axes
        inside = (tube * pred).sum(axes)
        size = tube.sum(axes)
        # 1 - (inside + smooth) / (size + smooth), written so that an empty tube gives 0/(smooth) = 0, never 0/0
        f = (size - inside) / torch.clamp(size + self.smooth, min=_EPS)

        if self.reduction == LossReduction.MEAN.value:
            return f.mean()
        if self.reduction == LossReduction.SUM.value:
            return f.sum()
        return f.reshape(list(f.shape[0:2]) + [1] * (pred.ndim - 2))
