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

from monai_topo.topology.validation import check_spatial_ndim

__all__ = [
    "activate",
    "check_activation_input",
    "check_logits",
    "check_loss_inputs",
    "check_loss_options",
    "check_probabilities",
    "prepare_prediction",
    "prepare_prediction_and_target",
    "reduce_per_item",
    "resolve_activation",
]


def resolve_activation(sigmoid: bool | None, softmax: bool, other_act: Callable | None) -> bool:
    """The one activation default of every monai_topo loss; returns the resolved ``sigmoid``.

    ``sigmoid=None`` (the default of every loss) means ``True`` unless ``softmax`` or ``other_act`` is given: the
    input holds logits. ``sigmoid=False`` with no other activation means the input already holds probabilities.

    Args:
        sigmoid: ``True``, ``False`` or ``None`` (the default above).
        softmax: softmax over the channels.
        other_act: another activation callable.

    Returns:
        whether a sigmoid is applied.

    Raises:
        TypeError: when ``other_act`` is not callable.
        ValueError: when more than one of ``sigmoid=True``, ``softmax=True``, ``other_act`` is set (as ``DiceLoss``).

    Example:
        >>> resolve_activation(None, False, None), resolve_activation(None, True, None)
        (True, False)
    """
    if other_act is not None and not callable(other_act):
        raise TypeError(f"other_act must be None or callable but is {type(other_act).__name__}.")
    if sigmoid is None:
        sigmoid = not softmax and other_act is None
    if int(bool(sigmoid)) + int(bool(softmax)) + int(other_act is not None) > 1:
        raise ValueError("Incompatible values: more than 1 of [sigmoid=True, softmax=True, other_act is not None].")
    return bool(sigmoid)


def check_activation_input(
    input: torch.Tensor, *, sigmoid: bool, softmax: bool, other_act: Callable | None, owner: str
) -> None:
    """Catch an input that does not match the activation options, before any topology is computed.

    - No activation (``sigmoid=False``, no ``softmax`` / ``other_act``): the input must hold probabilities in
      ``[0, 1]``; values outside are logits, a ``ValueError`` that says to use ``sigmoid=True`` (the default).
    - ``sigmoid`` or ``softmax``: the input should hold logits; a non-constant input that lies entirely in
      ``[0, 1]`` looks like probabilities (a network that already applies its activation) and gets a
      ``UserWarning`` (logits can lie in ``[0, 1]``, so this is not an error).

    Args:
        input: the raw ``B C H W [D]`` input of the loss.
        sigmoid, softmax, other_act: the loss's resolved activation options.
        owner: the loss's name, for the messages.

    Raises:
        ValueError: for values outside ``[0, 1]`` when probabilities are expected.
    """
    if other_act is not None:
        return  # checked on the activated values, see check_probabilities
    with torch.no_grad():
        low, high = (float(v) for v in torch.aminmax(input.detach().float()))
    if not (sigmoid or softmax):
        if low < -1e-6 or high > 1.0 + 1e-6:
            raise ValueError(
                f"{owner}(sigmoid=False) expects probabilities in [0, 1], but the input has values in "
                f"[{low:.4g}, {high:.4g}]: these look like logits. Use sigmoid=True (the default) or softmax=True, "
                "or apply the activation before the loss."
            )
    elif low >= 0.0 and high <= 1.0 and low < high:
        option = "sigmoid=True" if sigmoid else "softmax=True"
        warnings.warn(
            f"{owner}({option}) expects logits, but the input lies in [{low:.4g}, {high:.4g}]: if these are already "
            "probabilities, pass sigmoid=False (and no softmax) so that they are not activated twice.",
            stacklevel=3,
        )


def check_probabilities(p: torch.Tensor, owner: str) -> None:
    """Check that ``other_act`` produced probabilities in ``[0, 1]``.

    Raises:
        ValueError: for values outside ``[0, 1]``.
    """
    with torch.no_grad():
        low, high = (float(v) for v in torch.aminmax(p.detach().float()))
    if low < -1e-6 or high > 1.0 + 1e-6:
        raise ValueError(
            f"{owner} needs probabilities in [0, 1], but other_act produced values in [{low:.4g}, {high:.4g}]: "
            "use an other_act that maps to [0, 1], or sigmoid=True / softmax=True."
        )


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
    check_spatial_ndim(input.ndim - 2, name)
    if input.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(input.shape)}).")
    if not all_finite(input):
        n_bad = int((~torch.isfinite(input.detach())).sum())
        raise ValueError(
            f"{name} contains {n_bad} NaN or infinite logit(s); the network has diverged or the input is corrupt."
        )


def check_loss_inputs(
    input: torch.Tensor, target: torch.Tensor | None, *, to_onehot_y: bool = False, target_values: bool = True
) -> None:
    """The checks every loss makes before computing anything: logits, target type, shapes, values.

    Args:
        input: logits ``B C H W [D]`` (see :func:`check_logits`).
        target: ``B C H W [D]``, or ``B 1 H W [D]`` class labels when ``to_onehot_y`` and ``C > 1``; ``None`` skips
            the target checks.
        to_onehot_y: whether the target holds class labels to be one-hot encoded with ``C`` classes.
        target_values: ``False`` checks the target's type and shape only, for a loss that does not read its values
            (e.g. ``SkeletonRecallLoss`` given its tube).

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
        raise ValueError(f"target batch/spatial shape {tuple(target.shape)} does not match input {tuple(input.shape)}.")
    if target_values and torch.is_floating_point(target) and not all_finite(target):
        raise ValueError("target contains NaN or infinite values.")
    n_pred_ch = input.shape[1]
    if to_onehot_y and n_pred_ch > 1:
        if target.shape[1] != 1:
            raise ValueError(f"to_onehot_y=True needs a B 1 ... label target, got {tuple(target.shape)}.")
        if not target_values:
            return
        values = target.detach()
        if (values < 0).any() or (values >= n_pred_ch).any() or (values != values.round()).any():
            raise ValueError(
                f"to_onehot_y=True needs integer class labels in [0, {n_pred_ch - 1}], "
                f"found values in [{float(values.min())}, {float(values.max())}]."
            )
    elif target.shape[1] != n_pred_ch:
        raise ValueError(f"ground truth has different shape ({target.shape}) from input ({input.shape})")


def activate(
    input: torch.Tensor, *, sigmoid: bool = False, softmax: bool = False, other_act: Callable | None = None
) -> torch.Tensor:
    """Apply the activation options to checked logits, as ``DiceLoss`` does (keeps the autograd graph).

    Example:
        >>> activate(torch.zeros(1, 1, 2, 2), sigmoid=True).flatten().tolist()
        [0.5, 0.5, 0.5, 0.5]
    """
    if sigmoid:
        input = torch.sigmoid(input)
    if softmax:
        if input.shape[1] == 1:
            warnings.warn("single channel prediction, `softmax=True` ignored.", stacklevel=4)
        else:
            input = torch.softmax(input, 1)
    if other_act is not None:
        input = other_act(input)
    return input


def _drop_background(tensor: torch.Tensor, include_background: bool) -> torch.Tensor:
    if include_background:
        return tensor
    if tensor.shape[1] == 1:
        warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=4)
        return tensor
    return tensor[:, 1:]


def prepare_prediction(
    input: torch.Tensor,
    *,
    include_background: bool = True,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
) -> torch.Tensor:
    """Checks, activation and background removal of a prediction without a target (e.g. a Betti prior).

    Raises:
        ValueError / TypeError: for wrong shapes, dtypes or non-finite logits.

    Example:
        >>> prepare_prediction(torch.zeros(2, 3, 8, 8), softmax=True, include_background=False).shape
        torch.Size([2, 2, 8, 8])
    """
    check_logits(input)
    p = activate(input, sigmoid=sigmoid, softmax=softmax, other_act=other_act)
    return _drop_background(p, include_background)


def prepare_prediction_and_target(
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    include_background: bool = True,
    to_onehot_y: bool = False,
    sigmoid: bool = False,
    softmax: bool = False,
    other_act: Callable | None = None,
    target_values: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Activation, one-hot target and background removal, exactly in ``DiceLoss``'s order.

    Args:
        input: logits ``B C H W [D]`` (finite).
        target: ``B C H W [D]`` or ``B 1 H W [D]`` label tensor.
        include_background, to_onehot_y, sigmoid, softmax, other_act: as ``monai.losses.DiceLoss``.
        target_values: ``False``: the target's shape is checked but its values are neither checked nor one-hot
            encoded (for a loss that does not read them); the returned target is then ``None``.

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
    check_loss_inputs(input, target, to_onehot_y=to_onehot_y, target_values=target_values)
    n_pred_ch = input.shape[1]
    input = activate(input, sigmoid=sigmoid, softmax=softmax, other_act=other_act)
    if to_onehot_y:
        if n_pred_ch == 1:
            warnings.warn("single channel prediction, `to_onehot_y=True` ignored.", stacklevel=3)
        elif target_values:
            target = one_hot(target, num_classes=n_pred_ch)  # labels checked by check_loss_inputs
    if not include_background and n_pred_ch == 1:
        warnings.warn("single channel prediction, `include_background=False` ignored.", stacklevel=3)
    elif not include_background:
        input, target = input[:, 1:], target[:, 1:]
    if not target_values:
        return input, None  # (the shapes fit: checked by check_loss_inputs)
    if target.shape != input.shape:
        raise ValueError(f"ground truth has different shape ({target.shape}) from input ({input.shape})")
    return input, target


def reduce_per_item(loss: torch.Tensor, reduction: str, spatial_ndim: int) -> torch.Tensor:
    """Reduce a ``(B, C)`` tensor of per-sample, per-channel losses per MONAI's ``reduction``.

    ``reduction="none"`` returns ``(B, C, 1, ..., 1)`` with ``spatial_ndim`` trailing axes of size 1, the shape
    ``monai.losses.DiceLoss(reduction="none")`` returns, so that per-item losses add up with it.

    Args:
        loss: ``(B, C)`` tensor.
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.
        spatial_ndim: number of spatial dimensions of the input (2 or 3).

    Example:
        >>> reduce_per_item(torch.ones(2, 3), "none", 3).shape
        torch.Size([2, 3, 1, 1, 1])
    """
    reduction = LossReduction(reduction).value
    if reduction == LossReduction.MEAN.value:
        return loss.mean()
    if reduction == LossReduction.SUM.value:
        return loss.sum()
    return loss.reshape(tuple(loss.shape[:2]) + (1,) * spatial_ndim)


def check_loss_options(sigmoid: bool | None, softmax: bool, other_act: Callable | None) -> None:
    """Reject incompatible activation options (as ``DiceLoss``); the checks of :func:`resolve_activation`.

    Raises:
        TypeError: when ``other_act`` is not callable.
        ValueError: when more than one of ``sigmoid``, ``softmax``, ``other_act`` is set.
    """
    resolve_activation(sigmoid, softmax, other_act)
