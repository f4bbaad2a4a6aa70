"""One loss object for a base segmentation loss plus a weighted topological term with a warm-up.

MONAI's ``SupervisedTrainer`` (and bundle configs) take a single ``loss_function(pred, label)``; topological terms
are usually switched on after some iterations or epochs of plain training. :class:`TopologyAwareLoss` carries
both terms, the weight, the warm-up and its own counters, which are saved in ``state_dict()`` so that resuming
from a checkpoint keeps the warm-up state.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from monai.utils import LossReduction, optional_import
from torch.nn.modules.loss import _Loss

from monai_topo.losses.utils import check_loss_inputs

Events, _ = optional_import("ignite.engine", name="Events")

__all__ = ["TopologyAwareLoss"]

_UNITS = ("iterations", "epochs")


def _uses_onehot_target(loss: Callable[..., torch.Tensor]) -> bool:
    """Whether ``loss`` (or a loss inside it, e.g. ``DiceCELoss.dice``) one-hot encodes ``B 1 ...`` labels."""
    modules = loss.modules() if isinstance(loss, torch.nn.Module) else [loss]
    return any(bool(getattr(module, "to_onehot_y", False)) for module in modules)


class TopologyAwareLoss(_Loss):
    """``base_loss(pred, label) + lambda_topology * topology_loss(pred, label)``, the second term after a warm-up.

    During the warm-up the topological term is not computed at all (it is usually the expensive one) and counts
    as 0. The warm-up is measured in ``warmup_unit``:

    - ``"iterations"``: the loss counts iterations itself: every forward call made while the module is in
      training mode (``loss.train()``, the default) *and* autograd is enabled advances :attr:`iteration` by one;
      calls under ``torch.no_grad()`` (validation) or after ``loss.eval()`` do not. If the loss is called several
      times per iteration (e.g. deep supervision), use :meth:`attach` instead.
    - ``"epochs"``: call :meth:`attach` with the ignite trainer, or :meth:`set_epoch` from your own loop.

    :meth:`attach` makes the trainer the source of truth (in a bundle config, call it from ``initialize``:
    ``"$@loss.attach(@train#trainer)"``; listing the loss among ``train_handlers`` also attaches it, but
    ``ConfigWorkflow.check_properties`` expects a ``_target_`` in every handler entry): at ``ITERATION_STARTED`` / ``EPOCH_STARTED`` the counters are set to the number of
    *completed* iterations / epochs of ``engine.state`` (which ignite / ``CheckpointLoader`` restore on resume),
    and forward calls stop counting. The term is active when the completed count reaches ``warmup``; with
    ``warmup=1`` the first iteration (epoch) runs without it and the second with it.

    The counters are part of ``state_dict()`` (as extra state, next to the two losses' own state), so a
    checkpoint that includes the loss object (``CheckpointSaver(save_dict={"net": net, "loss": loss, ...})``)
    resumes the warm-up where it stopped.

    A topological term that needs no target (e.g. a Betti-number prior) declares ``requires_target = False`` as
    an attribute and is then called as ``topology_loss(pred)``.

    Inputs are checked on every call, also during the warm-up, so that a bad batch fails at once and not when the
    topological term switches on: ``input`` must be finite floating-point logits ``B C H W [D]`` (NaN / Inf are a
    ``ValueError``, as in every monai_topo loss), and a tensor ``target`` must fit it (batch, spatial and channel
    shape, finite values, class labels in range when either loss has ``to_onehot_y=True``). On the **first call**
    the topological term's own input checks also run, without computing the term (its ``check_inputs`` method,
    which every monai_topo loss has): a mismatch between its activation options and the input (logits where it
    expects probabilities, a non-binary target for ``PersistenceMatchingLoss``, a Betti prior that does not fit the
    channels) fails at iteration 1, not after a multi-hour warm-up.

    With ``reduction="none"`` the two terms are added as returned; they must have the same number of dimensions
    and broadcast (e.g. ``DiceLoss(reduction="none")``'s ``(B, C, 1, 1, 1)`` with a persistence loss's
    ``(B, C, 1, 1, 1)``, or with ``SupervoxelLoss``'s ``(B, C, H, W, D)`` voxel map); anything else is a
    ``ValueError`` naming both shapes, never a silent outer broadcast.

    **Switching the term on gently.** A term that is strong on a network trained without it can take over the
    objective in a few steps. Two options bound that:

    - ``ramp``: after the warm-up, the weight rises linearly from ``lambda_topology / ramp`` to ``lambda_topology``
      over ``ramp`` iterations / epochs (``warmup_unit``) instead of stepping from 0 to full weight.
    - ``max_ratio``: the weighted term never exceeds ``max_ratio`` times the base term. When
      ``weight * topology > max_ratio * base`` (values of this call), the term is scaled down to that bound, value
      and gradient alike (the scale is a constant of the call, not differentiated). ``None``: no bound.

    :attr:`current_weight` is the weight the next call uses (0 during the warm-up).

    After each call, :attr:`last_terms` holds ``{"base", "topology", "total", "weight"}`` as floats (means, for
    non-scalar terms; ``weight`` is the weight after the ``max_ratio`` bound) and ``"active"`` (bool), for logging.

    Example:
        >>> from monai.losses import DiceCELoss
        >>> from monai_topo.losses import SupervoxelLoss
        >>> loss = TopologyAwareLoss(DiceCELoss(sigmoid=True), SupervoxelLoss(), lambda_topology=0.5, warmup=1)
        >>> pred, label = torch.randn(1, 1, 16, 16, requires_grad=True), torch.ones(1, 1, 16, 16)
        >>> _ = loss(pred, label); loss.last_terms["active"]
        False
        >>> _ = loss(pred, label); loss.last_terms["active"]
        True
    """

    def __init__(
        self,
        base_loss: Callable[..., torch.Tensor],
        topology_loss: Callable[..., torch.Tensor],
        lambda_topology: float = 1.0,
        warmup: int = 0,
        warmup_unit: str = "iterations",
        reduction: LossReduction | str = LossReduction.MEAN,
        ramp: int = 0,
        max_ratio: float | None = None,
    ) -> None:
        """
        Args:
            base_loss: the segmentation loss, e.g. ``monai.losses.DiceCELoss(sigmoid=True)``.
            topology_loss: the topological loss, e.g. :class:`monai_topo.losses.SupervoxelLoss`; called as
                ``topology_loss(pred, label)``, or ``topology_loss(pred)`` if it has ``requires_target = False``.
            lambda_topology: weight of the topological term (>= 0).
            warmup: number of iterations / epochs without the topological term (>= 0).
            warmup_unit: ``"iterations"`` (default) or ``"epochs"``.
            reduction: applied to each term before they are added: ``"mean"`` (default) or ``"sum"`` reduce a
                non-scalar term, ``"none"`` adds the terms as returned (same number of dimensions, broadcastable;
                see the class docstring).
            ramp: iterations / epochs over which the weight rises linearly to ``lambda_topology`` after the
                warm-up (``0``: full weight at once).
            max_ratio: bound of the weighted term relative to the base term (> 0), or ``None`` for no bound.

        Raises:
            TypeError: when a loss is not callable.
            ValueError: for a negative weight, warm-up or ramp, a ``max_ratio`` that is not positive, or an unknown
                ``warmup_unit``.
        """
        super().__init__(reduction=LossReduction(reduction).value)
        for name, fn in (("base_loss", base_loss), ("topology_loss", topology_loss)):
            if not callable(fn):
                raise TypeError(f"{name} must be a loss module or a callable, got {type(fn).__name__}.")
        if not float(lambda_topology) >= 0.0:
            raise ValueError(f"lambda_topology must be >= 0, got {lambda_topology}.")
        if isinstance(warmup, bool) or int(warmup) != warmup or warmup < 0:
            raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}.")
        if warmup_unit not in _UNITS:
            raise ValueError(f"warmup_unit must be one of {_UNITS}, got {warmup_unit!r}.")
        if isinstance(ramp, bool) or int(ramp) != ramp or ramp < 0:
            raise ValueError(f"ramp must be a non-negative integer, got {ramp!r}.")
        if max_ratio is not None and not float(max_ratio) > 0.0:
            raise ValueError(f"max_ratio must be > 0 or None, got {max_ratio!r}.")
        self.base_loss = base_loss
        self.topology_loss = topology_loss
        self.lambda_topology = float(lambda_topology)
        self.warmup = int(warmup)
        self.warmup_unit = warmup_unit
        self.ramp = int(ramp)
        self.max_ratio = None if max_ratio is None else float(max_ratio)
        self.iteration = 0  # completed training iterations
        self.epoch = 0  # completed epochs
        self._attached = False
        self._epoch_source = False  # set_epoch / attach was used (else an epoch warm-up would never end)
        self._topology_inputs_checked = False  # the term's own input checks ran once (see forward)
        self.last_terms: dict[str, Any] = {}

    # -- counters -------------------------------------------------------------------------------------------
    @property
    def topology_active(self) -> bool:
        """Whether the next call computes the topological term."""
        done = self.iteration if self.warmup_unit == "iterations" else self.epoch
        return done >= self.warmup

    @property
    def current_weight(self) -> float:
        """The weight of the term in the next call: 0 during the warm-up, then the ramp to ``lambda_topology``."""
        if not self.topology_active:
            return 0.0
        if self.ramp == 0:
            return self.lambda_topology
        done = self.iteration if self.warmup_unit == "iterations" else self.epoch
        return self.lambda_topology * min(1.0, (done - self.warmup + 1) / self.ramp)

    def set_epoch(self, epoch: int) -> None:
        """Set the number of completed epochs (for ``warmup_unit="epochs"`` without ignite)."""
        self.epoch = self._count(epoch, "epoch")
        self._epoch_source = True

    def set_iteration(self, iteration: int) -> None:
        """Set the number of completed training iterations."""
        self.iteration = self._count(iteration, "iteration")

    @staticmethod
    def _count(value: int, name: str) -> int:
        if isinstance(value, bool) or int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
        return int(value)

    def attach(self, engine: Any) -> None:
        """Follow an ignite engine's iteration and epoch counters (see the class docstring).

        Args:
            engine: the training engine, e.g. ``monai.engines.SupervisedTrainer``.
        """
        engine.add_event_handler(Events.ITERATION_STARTED, self._sync_iteration)
        engine.add_event_handler(Events.EPOCH_STARTED, self._sync_epoch)
        self._attached = True
        self._epoch_source = True

    def _sync_iteration(self, engine: Any) -> None:
        self.iteration = max(int(engine.state.iteration) - 1, 0)

    def _sync_epoch(self, engine: Any) -> None:
        self.epoch = max(int(engine.state.epoch) - 1, 0)

    def get_extra_state(self) -> dict[str, int]:
        """The warm-up counters, saved by ``state_dict()``."""
        return {"iteration": self.iteration, "epoch": self.epoch}

    def set_extra_state(self, state: dict[str, int]) -> None:
        """Restore the warm-up counters (called by ``load_state_dict()``)."""
        self.iteration = self._count(state["iteration"], "iteration")
        self.epoch = self._count(state["epoch"], "epoch")
        if self.epoch > 0:
            self._epoch_source = True

    # -- loss -----------------------------------------------------------------------------------------------
    def _reduce(self, value: torch.Tensor) -> torch.Tensor:
        if value.ndim == 0 or self.reduction == LossReduction.NONE.value:
            return value
        return value.sum() if self.reduction == LossReduction.SUM.value else value.mean()

    def _check_shapes(self, base: torch.Tensor, topology: torch.Tensor) -> None:
        """With ``reduction="none"``: the terms must have the same number of dimensions and broadcast."""
        if self.reduction != LossReduction.NONE.value or base.ndim == 0 or topology.ndim == 0:
            return
        try:
            torch.broadcast_shapes(base.shape, topology.shape)
            ok = base.ndim == topology.ndim
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"TopologyAwareLoss(reduction='none') cannot add the base term of shape {tuple(base.shape)} and the "
                f"topological term of shape {tuple(topology.shape)}: they need the same number of dimensions and "
                "broadcastable sizes (per-item losses return (B, C, 1, ..., 1) like DiceLoss). Use reduction='mean' "
                "or 'sum', or losses whose unreduced shapes agree."
            )

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """
        Args:
            input: the network output, passed unchanged to both losses.
            target: the label, passed unchanged to both losses (not to a ``requires_target = False`` term).

        Returns:
            ``base + weight * topology`` (just ``base`` during the warm-up; ``weight`` is ``lambda_topology``
            after the ramp, and lower where ``max_ratio`` bounds it).

        Raises:
            TypeError / ValueError: for inputs no monai_topo loss accepts (see the class docstring), even during the
                warm-up; on the first call, for inputs the topological term rejects; with ``reduction="none"``,
                for terms whose shapes do not add up.
        """
        needs_target = getattr(self.topology_loss, "requires_target", True) or isinstance(target, torch.Tensor)
        to_onehot_y = _uses_onehot_target(self.base_loss) or _uses_onehot_target(self.topology_loss)
        check_loss_inputs(input, target if needs_target else None, to_onehot_y=to_onehot_y)
        if self.warmup_unit == "epochs" and self.warmup > 0 and not self._epoch_source:
            warnings.warn(
                "TopologyAwareLoss(warmup_unit='epochs') does not know the epoch: call loss.attach(trainer) (in a bundle: "
                '"$@loss.attach(@train#trainer)" in initialize), or loss.set_epoch(n) each epoch.',
                stacklevel=2,
            )
            self._epoch_source = True  # warn once
        weight = self.current_weight
        active = weight > 0.0
        if not active and not self._topology_inputs_checked:
            check_inputs = getattr(self.topology_loss, "check_inputs", None)
            if callable(check_inputs):
                check_inputs(input, target if needs_target else None)
        self._topology_inputs_checked = True
        base = self._reduce(self.base_loss(input, target))
        if active:
            if getattr(self.topology_loss, "requires_target", True):
                topology = self._reduce(self.topology_loss(input, target))
            else:
                topology = self._reduce(self.topology_loss(input))
            self._check_shapes(base, topology)
            if self.max_ratio is not None:
                with torch.no_grad():
                    size = float((weight * topology.detach().float()).abs().mean())
                    bound = self.max_ratio * float(base.detach().float().abs().mean())
                if size > bound:
                    weight = weight * bound / size
            total = base + weight * topology
        else:
            topology, total, weight = None, base, 0.0
        if self.training and torch.is_grad_enabled() and not self._attached:
            self.iteration += 1
        self.last_terms = {
            "base": float(base.detach().float().mean()),
            "topology": float(topology.detach().float().mean()) if topology is not None else 0.0,
            "total": float(total.detach().float().mean()),
            "weight": float(weight),
            "active": active,
        }
        return total

    def extra_repr(self) -> str:
        return (
            f"lambda_topology={self.lambda_topology}, warmup={self.warmup} {self.warmup_unit}, ramp={self.ramp}, "
            f"max_ratio={self.max_ratio}, iteration={self.iteration}, epoch={self.epoch}"
        )
