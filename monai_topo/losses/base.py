"""The base of every monai_topo loss: MONAI's ``DiceLoss`` options, one activation default, input checks.

Every loss takes logits by default (``sigmoid=None`` resolves to ``True`` unless ``softmax`` or ``other_act`` is
given, see :func:`monai_topo.losses.utils.resolve_activation`); ``sigmoid=False`` means the input already holds
probabilities. :meth:`TopologyLoss.check_inputs` runs every input check of a loss without computing any
topology, so that :class:`monai_topo.losses.TopologyAwareLoss` can reject a mismatch on its first call, during
the warm-up.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from monai.data import MetaTensor
from monai.utils import LossReduction
from torch.nn.modules.loss import _Loss

from monai_topo.losses.utils import (
    check_activation_input,
    check_probabilities,
    prepare_prediction,
    prepare_prediction_and_target,
    resolve_activation,
)

__all__ = ["TopologyLoss"]


class TopologyLoss(_Loss):
    """Base class: ``include_background``, ``to_onehot_y``, ``sigmoid`` / ``softmax`` / ``other_act``, ``reduction``.

    Subclasses call :meth:`_prepare` at the start of ``forward`` and may extend :meth:`_check_target` (the checks
    of the prepared target, e.g. binary values). A subclass that needs no target sets ``requires_target = False``.

    Args:
        include_background: if False, channel 0 (background) is excluded.
        to_onehot_y: convert a ``B 1 ...`` class-label target to one-hot with ``input.shape[1]`` classes.
        sigmoid: ``None`` (default): the input holds logits for a sigmoid, unless ``softmax`` or ``other_act`` is
            given. ``False``: the input holds probabilities in [0, 1].
        softmax: apply a softmax over the channels.
        other_act: another activation callable mapping to [0, 1].
        reduction: ``"none"``, ``"mean"`` or ``"sum"``.

    Raises:
        TypeError: when ``other_act`` is not callable.
        ValueError: for more than one activation or an unknown reduction.
    """

    requires_target: bool = True

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool | None = None,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: LossReduction | str = LossReduction.MEAN,
    ) -> None:
        super().__init__(reduction=LossReduction(reduction).value)
        self.sigmoid = resolve_activation(sigmoid, softmax, other_act)
        self.include_background = bool(include_background)
        self.to_onehot_y = bool(to_onehot_y)
        self.softmax = bool(softmax)
        self.other_act = other_act

    def _require_target(self, target: torch.Tensor | None) -> None:
        if self.requires_target and target is None:
            raise ValueError(
                f"{type(self).__name__} needs a target; BettiPriorLoss is the label-free topological loss."
            )

    def _prepare(
        self, input: torch.Tensor, target: torch.Tensor | None, *, activate: bool = True, target_values: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checks, activation, one-hot target and background removal (``DiceLoss``'s order).

        Args:
            input: the raw ``B C H W [D]`` input.
            target: the target, or ``None`` for a loss without one (``requires_target = False``).
            activate: apply the sigmoid (``False`` keeps logits, e.g. for a criterion with logits); softmax and
                ``other_act`` are always applied.
            target_values: ``False``: only the target's type and shape are checked; its values are not read (no
                value checks, no one-hot copy, no :meth:`_check_target`) and the returned target is ``None``.

        Returns:
            ``(prediction, target)`` after background removal (target ``None`` when not given or not read).
        """
        self._require_target(target)
        # MetaTensor (MONAI's pipelines) -> plain tensors, keeping the graph: every torch op on a MetaTensor goes
        # through __torch_function__, which makes the many small gathers of the persistence losses much slower
        if isinstance(input, MetaTensor):
            input = input.as_tensor()
        if isinstance(target, MetaTensor):
            target = target.as_tensor()
        if isinstance(input, torch.Tensor) and input.dtype in (torch.float16, torch.bfloat16):
            input = input.float()
        options = {"sigmoid": self.sigmoid and activate, "softmax": self.softmax, "other_act": self.other_act}
        if target is None or not self.requires_target:
            p, t = prepare_prediction(input, include_background=self.include_background, **options), None
        else:
            p, t = prepare_prediction_and_target(
                input,
                target,
                include_background=self.include_background,
                to_onehot_y=self.to_onehot_y,
                target_values=target_values,
                **options,
            )
        name = type(self).__name__
        check_activation_input(input, sigmoid=self.sigmoid, softmax=self.softmax, other_act=self.other_act, owner=name)
        if self.other_act is not None:
            check_probabilities(p, name)
        if t is not None:
            self._check_target(t)
        return p, t

    def _check_target(self, target: torch.Tensor) -> None:
        """Checks of the prepared target (after one-hot and background removal); none by default."""

    @torch.no_grad()
    def check_inputs(self, input: torch.Tensor, target: torch.Tensor | None = None) -> None:
        """Run every input check of :meth:`forward` without computing the loss (no topology, no graph).

        :class:`monai_topo.losses.TopologyAwareLoss` calls it on its first call, also during the warm-up.

        Raises:
            TypeError / ValueError: as :meth:`forward` would for these inputs.
        """
        self._prepare(input, target if self.requires_target else None)
