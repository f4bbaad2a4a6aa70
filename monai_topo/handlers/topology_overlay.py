"""Ignite handlers that show where the topological errors are: in TensorBoard, and as files next to predictions."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from monai.handlers import TensorBoardHandler

from monai_topo.evaluation.overlays import OVERLAY_COLUMNS, write_case_overlays
from monai_topo.io import case_name, output_problem
from monai_topo.io.cases import VOLUME_SUFFIXES
from monai_topo.topology import Connectivity, topological_errors
from monai_topo.metrics import split_merge_counts
from monai_topo.visualize import plot_persistence_diagram, render_error_overlay, split_merge_notes

__all__ = ["TopologyErrorOverlay", "TopologyErrorOverlaySaver"]


def _default_output(output: object) -> tuple[object, object]:
    """``(pred, label)`` of a decollated engine output (a list of dicts with ``"pred"`` and ``"label"``)."""
    if isinstance(output, dict):
        return output["pred"], output["label"]
    return [item["pred"] for item in output], [item["label"] for item in output]  # type: ignore[union-attr]


def _to_numpy(value: object) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _binary(item: np.ndarray, channel: int) -> np.ndarray:
    """One channel of a ``C H W [D]`` item as a mask: channel ``channel`` when there are several, else ``> 0.5``."""
    if item.ndim < 3:
        raise ValueError(f"expected a channel-first 2D/3D item (C H W [D]), got shape {item.shape}.")
    return item[channel if item.shape[0] > 1 else 0] > 0.5


def _figure_rgb(fig) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


class TopologyErrorOverlay(TensorBoardHandler):
    """Logs where the topological errors of the first validation case are, once per validation run.

    At the first iteration of each epoch of the engine it is attached to (a validation ``SupervisedEvaluator``:
    its epoch is the trainer's), it takes item ``index`` of the output, computes
    :func:`monai_topo.topology.topological_errors` of one channel and writes to TensorBoard:

    - ``{tag_name}/overlay``: the picture of :func:`monai_topo.visualize.render_error_overlay` (projections of label
      and prediction with the error classes coloured, their region counts, and the case's splits / merges);
    - ``{tag_name}/<class>_regions``: the number of regions of each class (``split_regions``, ..., the columns of
      ``monai_topo.evaluation.overlays.OVERLAY_COLUMNS``), as scalars;
    - ``{tag_name}/diagram`` (with ``prob_key``): the persistence diagram of the item's probabilities
      (``output[index][prob_key]``, e.g. a copy of the softmax output made before ``AsDiscreted``) with the
      label's points and the Hu / spatial matchings (:func:`monai_topo.visualize.plot_persistence_diagram`).

    Example, in a bundle's validation handlers::

        {"_target_": "monai_topo.handlers.TopologyErrorOverlay", "log_dir": "@output_dir"}

    Args:
        summary_writer: a TensorBoard ``SummaryWriter``; ``None`` creates one writing to ``log_dir``.
        log_dir: folder of the writer created when ``summary_writer`` is ``None``.
        output_transform: maps ``engine.state.output`` to ``(preds, labels)``, sequences of ``C H W [D]`` items
            (default: the ``"pred"`` / ``"label"`` keys of a decollated output).
        index: which item of the first batch is shown.
        channel: the channel shown when the items have several (1: the first foreground class of one-hot maps);
            single-channel items are thresholded at 0.5.
        connectivity: foreground connectivity (8/26 default, 4/6).
        tag_name: prefix of the TensorBoard tags.
        prob_key: key of the item's probabilities for the persistence diagram; ``None``: no diagram.
        interval: log every ``interval`` epochs.

    Raises:
        ValueError: for an ``index`` or ``channel`` below 0 or an ``interval`` below 1 (at construction), for items
            without channel axis (when called).
    """

    def __init__(
        self,
        summary_writer=None,
        log_dir: str = "./runs",
        output_transform: Callable = _default_output,
        index: int = 0,
        channel: int = 1,
        connectivity: Connectivity = None,
        tag_name: str = "topology_errors",
        prob_key: str | None = None,
        interval: int = 1,
    ) -> None:
        for name, value, low in (("index", index, 0), ("channel", channel, 0), ("interval", interval, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        super().__init__(summary_writer=summary_writer, log_dir=log_dir)
        self.output_transform = output_transform
        self.index, self.channel, self.connectivity = index, channel, connectivity
        self.tag_name, self.prob_key, self.interval = tag_name, prob_key, interval
        self._logged_epoch: int | None = None

    def attach(self, engine) -> None:
        """Run at every ``ITERATION_COMPLETED`` of ``engine`` (only the first of each epoch logs)."""
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        epoch = int(engine.state.epoch)
        if epoch == self._logged_epoch or epoch % self.interval:
            return
        self._logged_epoch = epoch
        preds, labels = self.output_transform(engine.state.output)
        if isinstance(preds, (torch.Tensor, np.ndarray)) and np.ndim(preds) >= 4:
            preds, labels = list(preds), list(labels)  # a batch tensor B C ...
        if not isinstance(preds, Sequence) or len(preds) <= self.index:
            return
        pred = _binary(_to_numpy(preds[self.index]), self.channel)
        label = _binary(_to_numpy(labels[self.index]), self.channel)
        self.log_case(pred, label, epoch, engine)

    def log_case(self, pred: np.ndarray, label: np.ndarray, step: int, engine=None) -> None:
        """Write the overlay, the counts (and the diagram) of one binary ``pred`` / ``label`` pair at ``step``."""
        errors, counts = topological_errors(pred, label, self.connectivity, instance_labels=False, return_counts=True)
        notes = split_merge_notes(*split_merge_counts(pred, label, self.connectivity))
        image, _ = render_error_overlay(errors, label, pred, counts=counts, title=f"epoch {step}", notes=notes)
        self._writer.add_image(f"{self.tag_name}/overlay", image, step, dataformats="HWC")
        for code, count in counts.items():
            if pred.ndim == 2 and code >= 9:
                continue
            self._writer.add_scalar(f"{self.tag_name}/{OVERLAY_COLUMNS[code]}", count, step)
        if self.prob_key is not None and engine is not None:
            item = engine.state.output[self.index]
            prob = _to_numpy(item[self.prob_key])
            prob = prob[self.channel if prob.shape[0] > 1 else 0]
            fig = plot_persistence_diagram(prob, label, self.connectivity, title=f"epoch {step}")
            self._writer.add_image(f"{self.tag_name}/diagram", _figure_rgb(fig), step, dataformats="HWC")
        self._writer.flush()


def _case_name(path: str) -> str:
    """The case name of a label file (:func:`monai_topo.io.case_name`), or its name without its last suffix."""
    return case_name(path, VOLUME_SUFFIXES) or os.path.splitext(os.path.basename(str(path)))[0]


class TopologyErrorOverlaySaver:
    """Writes the error label map and picture of every case an engine sees (``monai-topo evaluate --overlays``).

    At every ``ITERATION_COMPLETED`` each item's ``pred`` and ``label`` (``C H W [D]``, one-hot or one channel of
    class indices) become label maps (argmax of one-hot maps), and
    :func:`monai_topo.evaluation.write_case_overlays` writes ``<case>_errors.nii.gz`` (on the label file's grid:
    its affine and header) and ``<case>_errors.png`` to ``output_dir``, ``<case>`` being the label file's name
    (``label.meta["filename_or_obj"]``). So a bundle's evaluation writes them next to its predictions::

        {"_target_": "monai_topo.handlers.TopologyErrorOverlaySaver",
         "output_dir": "$os.path.join(@eval_dir, 'overlays')"}

    The items must be on the label file's grid (after ``Invertd``). A case that cannot be written is logged by
    name and the others go on.

    Args:
        output_dir: folder of the files (created).
        output_transform: as :class:`TopologyErrorOverlay`.
        connectivity: foreground connectivity (8/26 default, 4/6).
    """

    def __init__(self, output_dir: str, output_transform: Callable = _default_output, connectivity=None) -> None:
        self.output_dir = Path(output_dir)
        self.output_transform, self.connectivity = output_transform, connectivity
        self.logger = logging.getLogger(__name__)

    def attach(self, engine) -> None:
        """Run at every ``ITERATION_COMPLETED`` of ``engine``."""
        from ignite.engine import Events

        engine.add_event_handler(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine) -> None:
        problem = output_problem(self.output_dir, folder=True)
        if problem:
            raise ValueError(f"TopologyErrorOverlaySaver: {problem}")
        preds, labels = self.output_transform(engine.state.output)
        for pred, label in zip(preds, labels):
            path = getattr(label, "meta", {}).get("filename_or_obj")
            if not path:
                raise ValueError("TopologyErrorOverlaySaver needs labels with meta['filename_or_obj'] (MetaTensors).")
            pred_map, label_map = (_label_map(_to_numpy(x)) for x in (pred, label))
            rows = [{"label": k} for k in sorted(set(np.unique(pred_map)) | set(np.unique(label_map))) if k != 0]
            try:
                write_case_overlays(
                    self.output_dir, _case_name(path), pred_map, label_map, Path(path), rows, self.connectivity
                )
            except ValueError as e:  # an unreadable label header, a file that cannot be written
                self.logger.error("case %s: %s", _case_name(path), e)


def _label_map(item: np.ndarray) -> np.ndarray:
    """Class indices of a ``C H W [D]`` item: argmax of several channels, the single channel otherwise."""
    if item.ndim < 3:
        raise ValueError(f"expected a channel-first 2D/3D item (C H W [D]), got shape {item.shape}.")
    return item.argmax(axis=0) if item.shape[0] > 1 else np.rint(item[0]).astype(np.int64)
