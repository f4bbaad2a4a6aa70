"""Ignite handler for :class:`monai_topo.metrics.BettiErrorMetric`."""

from __future__ import annotations

from collections.abc import Callable

from monai.handlers.ignite_metric import IgniteMetricHandler
from monai.utils import MetricReduction

from monai_topo.metrics import BettiErrorMetric
from monai_topo.topology import Connectivity
from monai_topo.topology.validation import renamed_arguments

__all__ = ["BettiError"]


class BettiError(IgniteMetricHandler):
    """Computes the Betti error from full size tensors and averages it over batch, channels and iterations.

    Use it like :class:`monai.handlers.HausdorffDistance`, e.g. in a bundle's ``additional_metrics``::

        "val_betti_error": {"_target_": "monai_topo.handlers.BettiError", "include_background": false,
                            "output_transform": "$monai.handlers.from_engine(['pred', 'label'])"}

    Args:
        include_background: whether to include the first channel. Defaults to ``True``.
        dims: ``None`` sums the errors over all homology dimensions; 0, 1 or 2 selects one; a sequence sums those.
            (Was ``dim``, deprecated: bundle keys ``"dim"`` become ``"dims"``.)
        connectivity: foreground connectivity: ``None`` (8 in 2D, 26 in 3D) or 4 / 6.
        patch_size: ``None`` for whole images, otherwise Hu et al.'s patch protocol with this patch size.
        num_patches: ``None`` tiles the image; an int samples that many random windows.
        seed: seed of the random windows.
        ignore_empty: if True, items with an empty target channel are NaN and excluded.
        reduction: MONAI reduction mode applied to not-NaN values. Defaults to ``"mean"``.
        num_workers: threads over the ``B x C`` items (``None`` = one per CPU core).
        output_transform: callable extracting ``(y_pred, y)`` from ``engine.state.output``.
        save_details: whether to save the per-image values in ``engine.state.metric_details[name]``
            (what :class:`monai.handlers.MetricsSaver` writes to ``{name}_raw.csv``).

    Example:
        >>> handler = BettiError(dims=0)
        >>> handler.metric_fn.dims
        0
    """

    @renamed_arguments(dim="dims")
    def __init__(
        self,
        include_background: bool = True,
        dims: int | tuple[int, ...] | None = None,
        connectivity: Connectivity = None,
        patch_size: int | tuple[int, ...] | None = None,
        num_patches: int | None = None,
        seed: int | None = 0,
        ignore_empty: bool = False,
        reduction: MetricReduction | str = MetricReduction.MEAN,
        num_workers: int | None = None,
        output_transform: Callable = lambda x: x,
        save_details: bool = True,
    ) -> None:
        metric_fn = BettiErrorMetric(
            include_background=include_background,
            dims=dims,
            connectivity=connectivity,
            patch_size=patch_size,
            num_patches=num_patches,
            seed=seed,
            ignore_empty=ignore_empty,
            reduction=reduction,
            num_workers=num_workers,
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=save_details)
