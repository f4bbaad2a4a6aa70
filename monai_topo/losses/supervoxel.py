"""Supervoxel-based connectivity loss (Grim et al., 2025), see ``docs/algorithms.md`` ("SupervoxelLoss").

Reference: A. Grim, J. Chandrashekar, U. Sümbül, "Efficient Connectivity-Preserving Instance Segmentation with
Supervoxel-Based Loss Function", AAAI 2025 (arXiv:2501.01022).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from monai.utils import LossReduction

from monai_topo.losses.base import TopologyLoss
from monai_topo.topology.critical import critical_components
from monai_topo.topology.validation import (
    check_connectivity,
    check_num_workers,
    renamed_arguments,
    resolve_num_workers,
)

__all__ = ["SupervoxelLoss"]

_NORMS = ("voxels", "critical", "foreground")


class SupervoxelLoss(TopologyLoss):
    """Voxel loss with extra weight on the *critical* supervoxels: the errors that break connectivity.

    For each sample and channel, the prediction is binarised (``P = probability > threshold``) and compared with the
    target (binary, or an instance label map). Connected components of the false negatives and false positives are
    the supervoxels; a false-negative one is critical when it disconnects or removes a target object, a
    false-positive one when it is a spurious object or merges two target objects (exact rules:
    :func:`monai_topo.topology.critical_components`). With ``K = beta * critical_fn + (1 - beta) * critical_fp``
    and ``l`` an elementwise voxel loss, the loss is

    ``reduce((1 - alpha) * l + alpha * K * l)``.

    **Normalising the critical term** (``critical_norm``). The formula above (``"voxels"``, the paper's) averages
    the critical term over *all* voxels. Critical voxels are rare (a break of a thin neurite is a few voxels in a
    volume of ``10^5``), so the term moves the mean by ``alpha * sum(K * l) / N``: at most a doubling of the
    weight of a few voxels, which in a 99%-background volume barely changes the objective (measured on the
    built-in neuron data: ~2% of DiceCE). ``"critical"`` divides the critical part by the critical mass
    ``sum(K)`` instead of ``N``: ``(1 - alpha) * mean(l) + alpha * sum(K * l) / sum(K)``, i.e. the map
    ``(1 - alpha) * l + alpha * (N / sum(K)) * K * l`` (``N`` voxels of the batch, all channels). The critical
    voxels then weigh as much in total as all voxels together, whatever their number, so a handful of voxels can
    dominate the objective: the network then bridges breaks by thickening every mask (measured on renders of real
    neurons: predicted volume 1.34x the label's, -4 Dice points). ``"foreground"`` divides the critical part by the
    target's foreground volume ``sum(Y)`` (all channels of the batch): ``(1 - alpha) * mean(l) + alpha * sum(K * l)
    / sum(Y)``, the map ``(1 - alpha) * l + alpha * (N / sum(Y)) * K * l``. A critical voxel then weighs about what
    a foreground voxel weighs in a Dice loss, the critical part grows with the number of critical voxels and stays
    below ``alpha * max(l) * sum(K) / sum(Y)``: it cannot dominate (an empty target falls back to ``N``). With no
    critical voxel the loss is ``(1 - alpha) * mean(l)`` in every mode.

    **Logits, activation and criterion.** ``input`` is what the network returns. The activation options say how to
    get probabilities from it, for the threshold, in MONAI's vocabulary; the criterion's input follows from them:

    - ``sigmoid=True`` (the default when neither ``softmax`` nor ``other_act`` is given): ``input`` holds logits.
      ``P = sigmoid(input) > threshold`` (evaluated as ``input > logit(threshold)``) and the criterion receives the
      **logits**; the default criterion is ``binary_cross_entropy_with_logits`` (the paper's).
    - ``softmax=True`` or ``other_act``: the criterion receives the **probabilities** (the activated input, after
      the background channel is dropped when ``include_background=False``); the default criterion is the binary
      cross-entropy of each channel's probability.
    - ``sigmoid=False`` and no other activation: ``input`` already holds probabilities in [0, 1]; as above.

    A custom ``criterion(input, target) -> tensor`` must be elementwise (``reduction="none"``, output of the
    input's shape), e.g. ``torch.nn.BCEWithLogitsLoss(reduction="none", pos_weight=...)`` in the logits case.
    It receives float32 tensors (half-precision inputs are cast) and the float32 target (``target > 0`` for an
    instance label map).

    **Targets.** ``B C ...`` one-hot / binary masks (objects = connected components of each channel), ``B 1 ...``
    class labels with ``to_onehot_y=True``, or, for a one-channel prediction, a ``B 1 ...`` instance label map
    (0 = background, one id per object): merges are then judged between instance ids, and the criterion uses
    ``target > 0``. ``instance_labels`` forces how the target is read (default: a sample holds instance ids when one
    of its values exceeds 1, decided per sample, so batching never changes how a sample is read). Soft labels in
    [0, 1] are given to the criterion unchanged and binarised at 0.5 for the detection.

    With ``"mean"`` / ``"sum"`` the default criterion is evaluated once over all voxels (``reduction="sum"``, no
    elementwise tensor kept) and once more on the gathered critical voxels only, which yields the same value and
    gradient as the weighted map with much less memory traffic.

    The critical masks need no gradient: they are computed under ``torch.no_grad()`` from a CPU copy of the
    binary masks (never of the graph; CUDA tensors work), one work item per sample and channel on a thread pool.
    numpy releases the GIL there, cc3d (3.26) does not, so threads overlap the numpy part only. The last masks
    stay readable as :attr:`last_critical`; :meth:`critical_masks` computes them without the loss.

    Example:
        >>> loss = SupervoxelLoss()
        >>> logits = torch.randn(2, 1, 32, 32, requires_grad=True)
        >>> target = (torch.rand(2, 1, 32, 32) > 0.5).float()
        >>> value = loss(logits, target)
        >>> value.backward()
        >>> loss.last_critical["fn"].shape
        torch.Size([2, 1, 32, 32])
    """

    @renamed_arguments(instance_target="instance_labels")
    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        threshold: float = 0.5,
        connectivity: int | None = None,
        criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool | None = None,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: LossReduction | str = LossReduction.MEAN,
        instance_labels: bool | None = None,
        num_workers: int | None = None,
        critical_norm: str = "voxels",
    ) -> None:
        """
        Args:
            alpha: weight of the critical term, in [0, 1] (``0``: the plain voxel loss).
            beta: share of the false negatives in ``K``, in [0, 1] (``1 - beta`` for the false positives).
            threshold: probability above which a voxel is predicted foreground, in (0, 1).
            connectivity: foreground connectivity of supervoxels and objects: 8 or 4 in 2D, 26 or 6 in 3D;
                ``None`` = 8 / 26 (see :mod:`monai_topo.topology.connectivity`).
            criterion: elementwise voxel loss ``criterion(input, target)``; ``None`` for binary cross-entropy
                (with logits when ``sigmoid``). See the class docstring for what it receives.
            include_background: if False, channel 0 (background) is excluded, as in ``monai.losses.DiceLoss``.
            to_onehot_y: convert a ``B 1 ...`` class-label target to one-hot with ``input.shape[1]`` classes.
            sigmoid: ``input`` holds logits for a sigmoid. ``None`` (default): True unless ``softmax`` or
                ``other_act`` is given. Set False when ``input`` already holds probabilities.
            softmax: apply a softmax over the channels to get probabilities.
            other_act: another activation, e.g. ``torch.tanh``-based; exclusive with ``sigmoid`` / ``softmax``.
            reduction: ``"mean"`` (default) or ``"sum"`` over all voxels, or ``"none"`` for the weighted **voxel
                map** of shape ``B C' H W [D]`` (``C'`` = channels after background removal); unlike the per-item
                losses (``(B, C, 1, ..., 1)`` as ``DiceLoss``), this loss is a voxel loss, so its unreduced form is
                the map. ``batch`` is not offered: the loss is a voxel mean, batching would not change it.
            instance_labels: ``True``: target values are instance ids; ``False``: the target is binary
                (non-zero = foreground; values in [0, 1]: above 0.5); ``None``: instance ids when a value exceeds 1.
                (Was ``instance_target``, deprecated.)
            num_workers: threads for the critical detection; ``None`` = ``os.cpu_count()``, ``0`` or ``1`` serial,
                capped by the number of sample x channel items.
            critical_norm: ``"voxels"`` (default, the paper's formula: the critical term is averaged over all
                voxels), ``"critical"`` (averaged over the critical voxels) or ``"foreground"`` (divided by the
                target's foreground volume), see the class docstring.

        Raises:
            TypeError: when ``criterion`` or ``other_act`` is not callable.
            ValueError: for out-of-range ``alpha`` / ``beta`` / ``threshold``, an unknown connectivity, bad
                ``num_workers``, or more than one of ``sigmoid=True``, ``softmax=True``, ``other_act``.
        """
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        for name, value in (("alpha", alpha), ("beta", beta)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}.")
        if not 0.0 < float(threshold) < 1.0:
            raise ValueError(f"threshold must be a probability in (0, 1), got {threshold}.")
        if criterion is not None and not callable(criterion):
            raise TypeError(f"criterion must be None or callable but is {type(criterion).__name__}.")
        if critical_norm not in _NORMS:
            raise ValueError(f"critical_norm must be one of {_NORMS}, got {critical_norm!r}.")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.threshold = float(threshold)
        self.connectivity = check_connectivity(connectivity)
        self.criterion = criterion
        self.instance_labels = instance_labels
        self.num_workers = check_num_workers(num_workers)
        self.critical_norm = critical_norm
        self.last_critical: dict[str, torch.Tensor] | None = None

    def _prepare(  # type: ignore[override]
        self, input: torch.Tensor, target: torch.Tensor | None, *, activate: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """MONAI input handling (:class:`TopologyLoss`); returns logits (``sigmoid``: they are kept for the
        criterion, the threshold moves to logit space) or probabilities, and the matching target."""
        return super()._prepare(input, target, activate=activate)  # type: ignore[return-value]

    def _check_target(self, target: torch.Tensor) -> None:
        """What the detection will read must be a mask or integer instance ids (also run by :meth:`check_inputs`)."""
        _, detection, instance = self._binary_target(target)
        for b, is_instance in enumerate(instance):
            sample = detection[b]
            if (is_instance or float(sample.max()) > 1) and torch.is_floating_point(sample):
                if not bool((sample == sample.round()).all()):
                    raise ValueError(
                        "target must be a binary mask, soft labels in [0, 1] or a map of integer instance ids "
                        f"(0 = background), found non-integral values above 1 (sample {b})."
                    )

    def _binary_target(self, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """The criterion's float target, what the detection reads, and per sample whether it holds instance ids.

        Decided **per sample**, so a sample is read the same way whatever it is batched with. Values in [0, 1]
        (binary or soft labels): the criterion gets them unchanged (as float32), the detection ``target > 0.5``.
        Instance ids (a value above 1 in that sample, or ``instance_labels=True``): the criterion gets
        ``target > 0``, the detection the ids. ``instance_labels=False`` with ids: ``target > 0`` for both.
        """
        with torch.no_grad():
            target = target.detach()
            values = target.float() if target.dtype == torch.bool else target
            low = float(values.min())
            if low < 0:
                raise ValueError(f"target must be non-negative (0 = background), found the value {low}.")
            highs = values.reshape(values.shape[0], -1).amax(dim=1).tolist()
            instance = [bool(self.instance_labels) or (self.instance_labels is None and h > 1) for h in highs]
            positive = [is_instance or h > 1 for is_instance, h in zip(instance, highs)]
            criterion = target.to(torch.float32)
            if any(positive):
                rows = torch.tensor(positive, device=target.device).reshape(-1, *([1] * (target.ndim - 1)))
                criterion = torch.where(rows, (target > 0).to(torch.float32), criterion)
            return criterion, target, instance

    @torch.no_grad()
    def _critical(
        self, pred: torch.Tensor, target: torch.Tensor, instance: list[bool]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Critical FN / FP masks ``(B, C', ...)`` as CPU bool tensors (``target``: the detection target of
        :meth:`_binary_target`, ``instance[b]``: sample ``b`` holds instance ids)."""
        if self.sigmoid:
            cut = math.log(self.threshold / (1.0 - self.threshold))  # sigmoid(x) > t  <=>  x > logit(t)
            mask = pred.detach().float() > cut
        else:
            mask = pred.detach().float() > self.threshold
        masks = mask.cpu().numpy()
        labels = target.detach().cpu().numpy()
        items = [(b, c) for b in range(masks.shape[0]) for c in range(masks.shape[1])]

        def work(item: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
            if instance[item[0]]:
                return critical_components(masks[item], labels[item], self.connectivity, instance_labels=True)
            return critical_components(masks[item], labels[item] > 0.5, self.connectivity, instance_labels=False)

        workers = resolve_num_workers(self.num_workers, len(items))
        if workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(work, items))
        else:
            results = [work(item) for item in items]
        fn = np.stack([r[0] for r in results]).reshape(masks.shape)
        fp = np.stack([r[1] for r in results]).reshape(masks.shape)
        return torch.from_numpy(fn), torch.from_numpy(fp)

    def critical_masks(self, input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critical false-negative and false-positive masks the loss would use, without the loss.

        Args:
            input: as for :meth:`forward`.
            target: as for :meth:`forward`.

        Returns:
            ``(critical_fn, critical_fp)``: CPU bool tensors ``B C' ...`` (channels after background removal).
        """
        pred, target = self._prepare(input, target)
        _, detection, instance = self._binary_target(target)
        return self._critical(pred, detection, instance)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: ``B C H W [D]`` logits (or probabilities with ``sigmoid=False``).
            target: ``B C H W [D]`` binary / one-hot, ``B 1 H W [D]`` class labels (``to_onehot_y``), or a
                ``B 1 H W [D]`` instance label map for a one-channel ``input``.

        Returns:
            a scalar (``"mean"`` / ``"sum"``) or the ``B C' H W [D]`` weighted voxel loss (``"none"``), float32.

        Raises:
            ValueError / TypeError: for mismatched shapes, non-finite logits, probabilities outside [0, 1] with
                ``sigmoid=False``, negative or non-integral instance ids, or a criterion that is not elementwise.
        """
        pred, target = self._prepare(input, target)
        binary_target, detection_target, instance = self._binary_target(target)
        critical_fn, critical_fp = self._critical(pred, detection_target, instance)
        self.last_critical = {"fn": critical_fn, "fp": critical_fp}

        pred = pred.float()
        base = 1.0 - self.alpha
        weights = (self.alpha * self.beta, self.alpha * (1.0 - self.beta))  # extra weight of critical FN / FP
        if self.critical_norm == "critical":  # the critical part becomes a mean over the critical mass sum(K)
            mass = self.beta * int(critical_fn.sum()) + (1.0 - self.beta) * int(critical_fp.sum())  # sum(K)
        elif self.critical_norm == "foreground":  # ... over the target's foreground volume sum(Y)
            mass = float((binary_target > 0.5).sum())
        else:
            mass = 0.0
        if mass > 0:
            scale = pred.numel() / mass
            weights = (weights[0] * scale, weights[1] * scale)
        full = None if self.criterion is None else self._criterion(pred, binary_target)

        if self.reduction == LossReduction.NONE.value:
            if full is None:
                full = self._default_criterion(pred, binary_target, "none")
            weight = torch.full_like(full, base)
            for mask, extra in zip((critical_fn, critical_fp), weights):
                weight += extra * mask.to(full.device, non_blocking=True)
            return full * weight

        # mean / sum: base * sum(l) + the critical voxels' extra weight, gathered sparsely (no full weight map)
        terms = []
        flat_pred, flat_target, flat_full = pred.reshape(-1), binary_target.reshape(-1), None
        if full is not None:
            flat_full = full.reshape(-1)
        if base > 0.0:
            terms.append(base * (full.sum() if full is not None else self._default_criterion(pred, binary_target)))
        for mask, extra in zip((critical_fn, critical_fp), weights):
            index = np.flatnonzero(mask.numpy())
            if extra == 0.0 or index.size == 0:
                continue
            index = torch.from_numpy(index).to(pred.device, non_blocking=True)
            if flat_full is not None:
                critical_sum = flat_full[index].sum()
            else:
                critical_sum = self._default_criterion(flat_pred[index], flat_target[index])
            terms.append(extra * critical_sum)
        total = torch.stack(terms).sum() if terms else (pred * 0.0).sum()  # keeps the graph when all is zero
        return total / pred.numel() if self.reduction == LossReduction.MEAN.value else total

    def _default_criterion(self, pred: torch.Tensor, target: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        """Binary cross-entropy, from logits when ``sigmoid`` (else from probabilities)."""
        if self.sigmoid:
            return F.binary_cross_entropy_with_logits(pred, target, reduction=reduction)
        return F.binary_cross_entropy(pred, target, reduction=reduction)

    def _criterion(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The user's elementwise criterion, checked, in float32."""
        voxel_loss = self.criterion(pred, target)  # type: ignore[misc]
        if not isinstance(voxel_loss, torch.Tensor) or voxel_loss.shape != pred.shape:
            got = tuple(voxel_loss.shape) if isinstance(voxel_loss, torch.Tensor) else type(voxel_loss).__name__
            raise ValueError(
                f"criterion must return an elementwise loss of shape {tuple(pred.shape)} (use reduction='none'), "
                f"got {got}."
            )
        return voxel_loss.float()
