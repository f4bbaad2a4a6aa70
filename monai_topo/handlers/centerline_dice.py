"""Ignite handler for :class:`monai_topo.metrics.CenterlineDiceMetric`."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import MetricReduction

from monai_topo.metrics import CenterlineDiceMetric

__all__ = ["CenterlineDice"]


class CenterlineDice(IgniteMetricHandler):
    """Computes clDice (centerline Dice) and averages it over batch, channels and iterations.

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        ignore_empty: if True, items with an empty target channel are NaN and excluded
            (otherwise both empty gives 1.0 and only one empty gives 0.0).
        reduction: MONAI reduction mode applied to not-NaN values. Defaults to ``"mean"``.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).
        output_transform: callable extracting ``(y_pred, y)`` from ``engine.state.output``.
        save_details: whether to save the per-image values in ``engine.state.metric_details[name]``.

    Example:
        >>> CenterlineDice(include_background=False).metric_fn.include_background
        False
    """

    def __init__(
        self,
        include_background: bool = True,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        num_workers: int | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = CenterlineDiceMetric(
            include_background=include_background,
            ignore_empty=ignore_empty,
            reduction=reduction,
            num_workers=num_workers,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
