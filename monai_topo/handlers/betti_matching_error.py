"""Ignite handler for :class:`monai_topo.metrics.BettiMatchingErrorMetric`."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import MetricReduction

from monai_topo.metrics import BettiMatchingErrorMetric
from monai_topo.topology import Connectivity

__all__ = ["BettiMatchingError"]


class BettiMatchingError(IgniteMetricHandler):
    """Computes the Betti matching error from full size tensors and averages it over batch, channels and iterations.

    Use it like :class:`monai.handlers.HausdorffDistance`, e.g. in a bundle's ``additional_metrics``::

        "val_betti_matching_error": {"_target_": "monai_topo.handlers.BettiMatchingError",
                                     "include_background": false,
                                     "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"}

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        dims: ``None`` sums the errors over all homology dimensions; 0, 1 or 2 selects one; a sequence sums those.
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D) or 4 / 6.
        ignore_empty: if True, items with an empty target channel are NaN and excluded.
        reduction: MONAI reduction mode applied to not-NaN values. Defaults to ``"mean"``.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).
        output_transform: callable extracting ``(y_pred, y)`` from ``engine.state.output``.
        save_details: whether to save the per-image values in ``engine.state.metric_details[name]``
            (what :class:`monai.handlers.MetricsSaver` writes to ``{name}_raw.csv``).

    Example:
        >>> handler = BettiMatchingError(dims=(0, 1), connectivity=6)
        >>> handler.metric_fn.dims, handler.metric_fn.connectivity
        ((0, 1), 6)
    """

    def __init__(
        self,
        include_background: bool = True,
        dims: int | tuple[int, ...] | None = None,
        connectivity: Connectivity = None,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        num_workers: int | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = BettiMatchingErrorMetric(
            include_background=include_background,
            dims=dims,
            connectivity=connectivity,
            ignore_empty=ignore_empty,
            reduction=reduction,
            num_workers=num_workers,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
