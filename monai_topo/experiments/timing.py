"""Step times of a training run, recorded by an ignite handler and written as JSON for the comparison report."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from monai_topo.data.writers import write_json_atomic

__all__ = ["StepTimer", "read_step_times"]


class StepTimer:
    """Record the duration of every training iteration and epoch, and whether the topological term was on.

    An iteration is timed from ignite's ``ITERATION_STARTED`` to ``ITERATION_COMPLETED``: forward, loss, backward
    and optimiser step, not the data loading. An epoch is timed from ``EPOCH_STARTED`` to its last
    ``ITERATION_COMPLETED``, so the validation that runs at the end of some epochs is not counted. At
    ``COMPLETED`` everything is written to ``path`` (JSON, written atomically).

    Args:
        path: the JSON file to write.
        loss: the training loss; when it has ``last_terms`` (``TopologyAwareLoss``), each step records whether the
            topological term was evaluated (``last_terms["active"]``).

    Example:
        In a bundle, attach it from ``initialize``::

            "$monai_topo.experiments.StepTimer('steps.json', @loss).attach(@train#trainer)"
    """

    def __init__(self, path: str | os.PathLike, loss: Any = None) -> None:
        self.path = Path(path)
        self.loss = loss
        self.steps: list[dict[str, Any]] = []
        self.epochs: list[dict[str, float]] = []
        self._step_start = 0.0
        self._epoch_start = 0.0
        self._last_step_end = 0.0

    def attach(self, engine: Any) -> StepTimer:
        """Register the handlers on an ignite ``Engine`` (e.g. a ``SupervisedTrainer``); returns ``self``."""
        from ignite.engine import Events

        engine.add_event_handler(Events.EPOCH_STARTED, self._epoch_started)
        engine.add_event_handler(Events.ITERATION_STARTED, self._step_started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._step_completed)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)
        engine.add_event_handler(Events.COMPLETED, self._write)
        return self

    def _epoch_started(self, engine: Any) -> None:
        self._epoch_start = self._last_step_end = time.perf_counter()

    def _step_started(self, engine: Any) -> None:
        self._step_start = time.perf_counter()

    def _step_completed(self, engine: Any) -> None:
        end = time.perf_counter()
        self._last_step_end = end
        terms = getattr(self.loss, "last_terms", None) or {}
        active = terms.get("active")
        self.steps.append(
            {
                "epoch": int(engine.state.epoch),
                "seconds": end - self._step_start,
                "active": None if active is None else bool(active),
            }
        )

    def _epoch_completed(self, engine: Any) -> None:
        self.epochs.append({"epoch": int(engine.state.epoch), "seconds": self._last_step_end - self._epoch_start})

    def _write(self, engine: Any = None) -> None:
        write_json_atomic({"steps": self.steps, "epochs": self.epochs}, self.path)


def read_step_times(path: str | os.PathLike) -> dict[str, list[dict[str, Any]]]:
    """The ``{"steps": [...], "epochs": [...]}`` written by :class:`StepTimer`.

    Raises:
        ValueError: when the file is missing or not a step-time record (naming the file).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the step times {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ValueError(f"{path} is not a step-time record (no 'steps' list).")
    return data
