"""Shared helpers for the bundle tests: where the bundles are, and the overrides that make them tiny."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monai.bundle import ConfigWorkflow

import monai_topo.bundles

BUNDLES = tuple(monai_topo.bundles.BUNDLES.values())
KINDS = {full: short for short, full in monai_topo.bundles.BUNDLES.items()}

#: overrides that turn the default (CPU, ~minutes) training into a one-epoch smoke run of a few seconds:
#: 3 generated 32^3 volumes (1 training, 1 validation, 1 test), 24^3 crops, a narrow UNet, topology term from
#: the first iteration (no warm-up) so that the topological loss is exercised.
TINY_TRAIN: dict[str, Any] = {
    "epochs": 1,
    "val_interval": 1,
    "num_volumes": 3,
    "num_validation": 1,
    "num_test": 1,
    "volume_size": 32,
    "roi_size": [24, 24, 24],
    "batch_size": 1,
    "num_samples": 1,
    "channels": [4, 8, 16, 16],
    "topology_warmup": 0,
}
#: the same network (and window) for inference.json / verify_net_in_out / ckpt_export
TINY_NET: dict[str, Any] = {"channels": TINY_TRAIN["channels"], "roi_size": TINY_TRAIN["roi_size"]}


def bundle_path(bundle: str, *parts: str) -> Path:
    """A file of a bundle as installed with the package (``monai_topo.bundles.path``)."""
    return monai_topo.bundles.path(bundle).joinpath(*parts)


def config_file(bundle: str, *names: str) -> list[str]:
    return [str(bundle_path(bundle, "configs", name)) for name in names]


def make_workflow(bundle: str, configs: tuple[str, ...], workflow_type: str | None, **override: Any) -> ConfigWorkflow:
    """A ``ConfigWorkflow`` of ``bundle`` as the model zoo's CI builds one (configs, metadata and logging)."""
    return ConfigWorkflow(
        config_file=config_file(bundle, *configs),
        meta_file=str(bundle_path(bundle, "configs", "metadata.json")),
        logging_file=str(bundle_path(bundle, "configs", "logging.conf")),
        workflow_type=workflow_type,
        **override,
    )


@contextmanager
def preserved_root_logging() -> Iterator[None]:
    """The bundle's ``logging.conf`` reconfigures the root logger; put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
