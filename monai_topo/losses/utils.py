"""Input handling shared by every monai_topo loss, in MONAI's ``DiceLoss`` order and vocabulary.

Forward order (as ``monai.losses.DiceLoss``): check -> activation -> one-hot target -> drop background ->
shape check. Errors are ``ValueError``/``TypeError`` that say what to do.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from monai.networks import one_hot
from monai.utils import LossReduction

__all__ = [
    "check_logits",
    "check_loss_inputs",
    "check_loss_options",
    "prepare_prediction_and_target",
    "reduce_per_item",
]


def check_loss_options(sigmoid: bool, softmax: bool, other_act: Callable | None) -> None:
    """Reject incompatible activation options the way ``DiceLoss`` does.

    Raises:
        TypeError: when ``other_act`` is not callable.
        ValueError: when more than one of ``sigmoid``, ``softmax``, ``other_act`` is set.
    """
    if other_act is not None and not callable(other_act):
        raise TypeError(f"other_act must be None or callable but is {type(other_act).__name__}.")
    if int(sigmoid) + int(softmax) + int(other_act is not None) > 1:
        raise ValueError("Incompatible values: more than 1 of [sigmoid=True, softmax=True, other_act is not None].")


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether a floating tensor has no NaN/Inf, cheaply: a float32 sum is finite for almost every finite tensor
    (one reduction, no boolean copy); only when it is not (NaN/Inf, or an overflowing sum) is every value checked.
    """
    values = tensor.detach()
    if bool(torch.isfinite(values.sum(dtype=torch.float32))):
        return True
    return bool(torch.isfinite(values).all())


def check_logits(input: torch.Tensor, name: str = "input") -> None:
    """Check a ``B C H W [D]`` floating tensor of finite logits.

    Raises:
        TypeError: if ``input`` is not a floating-point ``torch.Tensor``.
        ValueError: for a wrong number of dimensions, an empty tensor, or NaN/Inf values.
    """
    if not isinstance(input, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(input).__name__}.")
    if not torch.is_floating_point(input):
        raise TypeError(f"{name} must hold floating-point logits, got dtype {input.dtype}.")
    if input.ndim not in (4, 5):
        raise ValueError(f"{name} must have shape B C H W (2D) or B C H W D (3D), got {tuple(input.shape)}.")
    if input.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(input.shape)}).")
    if not all_finite(input):
        n_bad = int((~torch.isfinite(input.detach())).sum())
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite logit(s); the network has diverged or the input is corrupt."
        )


def check_loss_inputs(input: torch.Tensor, target: torch.Tensor | None, *, to_onehot_y: bool = False) -> None:
    """The checks every loss makes before computing anything: logits, target type, shapes, values.

    Args:
        input: logits ``B C H W [D]`` (see :func:`check_logits`).
        target: ``B C H W [D]``, or ``B 1 H W [D]`` class labels when ``to_onehot_y`` and ``C > 1``; ``None`` skips
            the target checks.
        to_onehot_y: whether the target holds class labels to be one-hot encoded with ``C`` classes.

    Raises:
        TypeError: for non-tensor or non-floating logits, or a non-tensor target.
        ValueError: for a wrong number of dimensions, empty or non-finite logits, a target whose batch, spatial or
            channel shape does not fit, a non-finite target, or (``to_onehot_y``) labels outside ``[0, C - 1]``.
    """
    check_logits(input)
    if target is None:
        return
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}.")
    if target.ndim != input.ndim:
        raise ValueError(
            f"target must have the same number of dimensions as input ({input.ndim}: B C spatial...), "
            f"got input {tuple(input.shape)} and target {tuple(target.shape)}."
        )
    if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:]:
        raise ValueError(
            f"target batch/spatial shape {tuple(target.shape)} does not match input {tuple(input.shape)}."
        )
    if torch.is_floating_point(target) and not all_finite(target):
        raise ValueError("target contains NaN or infinite values.")
    n_pred_ch = input.shape[1]
    if to_onehot_y and n_pred_ch > 1:
        if target.shape[1] != 1:
            raise ValueError(f"to_onehot_y=True needs a B 1 ... label target, got {tuple(target.shape)}.")
        values = target.detach()
        if (values < 0).any() or (values >= n_pred_ch).any() or (values != values.round()).any():
            raise ValueError(
                f"to_onehot_y=True needs integer class labels in [0, {n_pred_ch - 1}], "
                f"found values in [{float(values.min())}, {float(values.max())}]."
            )
    elif target.shape[1] != n_pred_ch:
        raise ValueError(f"ground truth has different shape ({target.shape}) from input ({input.shape})")


def prepare_prediction_and_target(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Activation, one-hot target and background removal, exactly in ``DiceLoss``'s order.

    Args:
        input: logits ``B C H W [D]`` (finite).
        target: ``B C H W [D]`` or ``B 1 H W [D]`` label tensor.
        include_background, to_onehot_y, sigmoid, softmax, other_act: as ``monai.losses.DiceLoss``.

    Returns:
        ``(prediction, target)`` with the same shape; ``prediction`` is the activated input (or the raw input
        when no activation is set) and keeps its autograd graph.

    Raises:
        ValueError / TypeError: for wrong shapes, dtypes, non-finite logits, or mismatched batch/channels.

    Example:
        >>> x = torch.zeros(2, 3, 8, 8); y = torch.randint(0, 3, (2, 1, 8, 8))
        >>> p, t = prepare_prediction_and_target(x, y, softmax=True, to_onehot_y=True, include_background=False)
        >>> p.shape, t.shape
        (torch.Size([2, 2, 8, 8]), torch.Size([2, 2, 8, 8]))
    """
    check_loss_inputs(input, target, to_onehot_y=to_onehot_y)

    n_pred_ch = input.shape[1]
    if sigmoid:
        input = torch.sigmoid(input)
    if softmax:
        if n_pred_ch == 1:
            warnings.warn("single channel prediction, `softmax=True` ignored.", stacklevel=3)
        else:
            input = torch.softmax(input, 1)
    if other_act is not None:
        input = other_act(input)

    if to_onehot_y:
        if n_pred_ch == 1:
            warnings.warn("single channel prediction, `to_onehot_y=True` ignored.", stacklevel=3)
        else:
            target = one_hot(target, num_classes=n_pred_ch)  # labels checked by check_loss_inputs

    if not include_background:
        if n_pred_ch == 1:
            warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=3)
        else:
            target = target[:, 1:]
            input = input[:, 1:]

    if target.shape != input.shape:
        raise ValueError(f"ground truth has different shape ({target.shape}) from input ({input.shape})")
    return input, target


def reduce_per_item(loss: torch.Tensor, reduction: str, batch: bool = False) -> torch.Tensor:
    """Reduce a ``(B, C)`` tensor of per-sample, per-channel losses per MONAI's ``reduction``.

    ``reduction="none"`` returns ``(B, C, 1, ..)`` broadcastable like ``DiceLoss`` does (spatial dims of
    size 1), unless ``batch=True``, where the batch was already summed and ``(C,)`` is returned.

    Args:
        loss: ``(B, C)`` tensor (or ``(C,)`` when ``batch=True``).
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        batch: whether the batch dimension was already merged.
    """
    reduction = LossReduction(reduction).value
    if reduction == LossReduction.MEAN.value:
        return loss.mean()
    if reduction == LossReduction.SUM.value:
        return loss.sum()
    return loss
