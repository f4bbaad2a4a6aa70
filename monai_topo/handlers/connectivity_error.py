"""Ignite handler for :class:`monai_topo.metrics.ConnectivityErrorMetric`."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import MetricReduction

from monai_topo.metrics import ConnectivityErrorMetric
from monai_topo.metrics.connectivity_error import kind_first_compat
from monai_topo.topology import Connectivity

__all__ = ["ConnectivityError"]


class ConnectivityError(IgniteMetricHandler):
    """Computes split / merge counts and averages them over batch, channels and iterations.

    Attach one handler per kind to track both, e.g. ``ConnectivityError(kind="splits")`` as ``"val_splits"``
    and ``ConnectivityError(kind="merges")`` as ``"val_merges"``.

    The arguments follow MONAI's order, as :class:`monai_topo.metrics.ConnectivityErrorMetric` (a string given first
    is still read as ``kind``, with a ``DeprecationWarning``).

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        kind: ``"splits"``, ``"merges"`` or ``"total"`` (their sum, default).
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D) or 4 / 6.
        instance_labels: whether ``y`` holds instance ids (same shape as ``y_pred``, 0 = background)
            rather than a binary mask whose components are the target objects.
        ignore_empty: if True, items with an empty target channel are NaN and excluded.
        reduction: MONAI reduction mode applied to not-NaN values. Defaults to ``"mean"``.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).
        output_transform: callable extracting ``(y_pred, y)`` from ``engine.state.output``.
        save_details: whether to save the per-image values in ``engine.state.metric_details[name]``.

    Example:
        >>> ConnectivityError(kind="merges").metric_fn.kind
        'merges'
    """

    def __init__(
        self,
        include_background: bool = True,
        kind: str = "total",
        connectivity: Connectivity = None,
        instance_labels: bool = False,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        num_workers: int | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        include_background, kind = kind_first_compat(include_background, kind, type(self).__name__)
        metric_fn = ConnectivityErrorMetric(
            kind=kind,
            include_background=include_background,
            connectivity=connectivity,
            instance_labels=instance_labels,
            ignore_empty=ignore_empty,
            reduction=reduction,
            num_workers=num_workers,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
