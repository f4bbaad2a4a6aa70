"""Ignite handler for :class:`monai_topo.metrics.EulerCharacteristicErrorMetric`."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import MetricReduction

from monai_topo.metrics import EulerCharacteristicErrorMetric
from monai_topo.topology import Connectivity

__all__ = ["EulerCharacteristicError"]


class EulerCharacteristicError(IgniteMetricHandler):
    """Computes the Euler characteristic error and averages it over batch, channels and iterations.

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D) or 4 / 6.
        ignore_empty: if True, items with an empty target channel are NaN and excluded.
        reduction: MONAI reduction mode applied to not-NaN values. Defaults to ``"mean"``.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).
        output_transform: callable extracting ``(y_pred, y)`` from ``engine.state.output``.
        save_details: whether to save the per-image values in ``engine.state.metric_details[name]``.

    Example:
        >>> EulerCharacteristicError(connectivity=6).metric_fn.connectivity
        6
    """

    def __init__(
        self,
        include_background: bool = True,
        connectivity: Connectivity = None,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        num_workers: int | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = EulerCharacteristicErrorMetric(
            include_background=include_background,
            connectivity=connectivity,
            ignore_empty=ignore_empty,
            reduction=reduction,
            num_workers=num_workers,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
