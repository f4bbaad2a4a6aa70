"""Loss configurations a comparison trains: named presets and the user's own, as bundle config overrides.

A configuration is a set of overrides of a bundle's ``configs/train.json`` (MONAI bundle keys, ``#`` for nesting,
exactly what ``python -m monai.bundle run --<key> <value>`` accepts). Every preset keeps the bundle's base loss
(DiceCE), data, network, optimiser, epochs and validation, so configurations differ only in the topological term.

Presets (for the two-class, softmax bundles of this repository). The bundles ship ``lambda_topology = 0`` (DiceCE
and post-processing), so every term preset sets its own weight; the warm-up is the bundle's unless said:

- ``bundle``: the bundle as shipped, no override.
- ``dicece``: ``lambda_topology = 0``: the base loss only, the topological term is never evaluated.
- ``supervoxel``: :class:`~monai_topo.losses.SupervoxelLoss` at 0.1 with the critical term averaged over the
  critical voxels (``critical_norm="critical"``, the neuron bundle's default before 0.3.0).
- ``supervoxel-foreground``: :class:`~monai_topo.losses.SupervoxelLoss` at 1.0 with the critical term divided by
  the label's foreground volume (``critical_norm="foreground"``, the option the neuron bundle documents).
- ``supervoxel-paper``: :class:`~monai_topo.losses.SupervoxelLoss` at 1.0 with the paper's normalisation (over all
  voxels).
- ``hu-patches``: :class:`~monai_topo.losses.PersistenceMatchingLoss` at 0.5 on 4 random 32^3 patches per crop (the
  placenta bundle's default before 0.3.0).
- ``sat-patches``: :class:`~monai_topo.losses.SpatialAwareMatchingLoss` at 0.5 on 4 random 32^3 patches per crop.
- ``betti-prior``: :class:`~monai_topo.losses.BettiPriorLoss` at 0.5 with the prior ``(1, 0, 0)`` (one simply connected
  object: right for the placenta, wrong for a field of neurons; no target needed).
- ``cldice``: MONAI's ``SoftclDiceLoss`` (the clDice part of ``SoftDiceclDiceLoss``) at 1.0 as the term, from the first
  epoch (no warm-up, as the clDice paper trains).
- ``skeleton-recall``: :class:`~monai_topo.losses.SkeletonRecallLoss` at 1.0 (the paper's weight), from the first epoch
  (as the paper trains).

**Post-processing** is part of a configuration. Every preset above evaluates the network's raw prediction, except
``bundle``, which applies the post-processing the bundle ships (its ``postprocess`` key). ``NAME+post`` (e.g.
``dicece+post``, ``bundle+post``) is preset ``NAME`` with the bundle's post-processing
(:class:`~monai_topo.transforms.TopologyPostprocess`), its ``min_size`` chosen on each run's **validation** split
(``"auto"``, see :func:`~monai_topo.experiments.choose_min_size`); a bundle that ships none gets
``{"min_size": "auto"}``. ``+post`` is the practitioner's baseline, MONAI's transforms only: the bundle's gap
bridging (``max_gap``) is left out of it (``bundle`` has it; a configuration file can add it to any preset).
Configurations that differ only in post-processing share their training runs.

A configuration file (JSON or YAML) maps names to a preset name or to ``{"preset": ..., "overrides": {...},
"postprocess": {...}, "description": ...}`` (all keys optional)::

    {
      "dicece": "dicece",
      "dicece-small": {"preset": "dicece", "postprocess": {"min_size": 16}},
      "supervoxel-l5": {"preset": "supervoxel", "overrides": {"lambda_topology": 5}},
      "mine": {"overrides": {"loss#topology_loss": {"_target_": "my_package.MyLoss"}, "lambda_topology": 0.5}}
    }
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_topo.transforms.postprocess import check_postprocess_options

__all__ = ["POST_SUFFIX", "PRESETS", "Configuration", "load_configurations", "resolve_configurations"]

#: the suffix that adds the bundle's post-processing (``min_size`` chosen on validation) to a preset
POST_SUFFIX = "+post"
#: ``Configuration.postprocess`` value of ``NAME+post``: the bundle's post-processing with ``min_size="auto"``
AUTO = "auto"

# the two bundles' topological term sees softmax logits of two classes and class-label targets
_TERM_VOCABULARY = {"include_background": False, "to_onehot_y": True, "softmax": True}
_PATCHES = {"patch_size": 32, "num_patches": 4, "seed": "@seed"}


def _term(target: str, **kwargs: Any) -> dict[str, Any]:
    return {"loss#topology_loss": {"_target_": target, **_TERM_VOCABULARY, **kwargs}}


@dataclass(frozen=True)
class Configuration:
    """One loss configuration of a comparison.

    Attributes:
        name: a short name (letters, digits, ``-``, ``_``, ``.``, ``+``), used for folders and tables.
        overrides: bundle config overrides of the training, e.g. ``{"lambda_topology": 0}``.
        description: one line for the report.
        postprocess: post-processing of the predictions before they are scored: ``{}`` none (the default),
            options of :class:`~monai_topo.transforms.TopologyPostprocess` (``min_size`` may be ``"auto"``: chosen
            on the validation split), ``None`` as the bundle ships it (its ``postprocess`` key), or ``"auto"``
            (``NAME+post``): the bundle's options with ``min_size`` chosen on the validation split.
    """

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    postprocess: dict[str, Any] | str | None = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_.+" for c in self.name) or self.name.startswith("."):
            raise ValueError(
                f"configuration name {self.name!r} must be non-empty and use only letters, digits, '-', '_', '.' "
                "or '+'"
            )
        if not isinstance(self.overrides, Mapping):
            raise TypeError(f"overrides of {self.name!r} must be a mapping, got {type(self.overrides).__name__}.")
        if self.postprocess is not None and self.postprocess != AUTO:
            try:
                check_postprocess_options(self.postprocess)  # type: ignore[arg-type]
            except ValueError as err:
                raise ValueError(f"configuration {self.name!r}: {err}") from None
        if "postprocess" in self.overrides:
            raise ValueError(
                f"configuration {self.name!r}: give post-processing as the configuration's 'postprocess' entry, not "
                "as a bundle override (it is applied when the predictions are scored)."
            )


PRESETS: dict[str, Configuration] = {
    c.name: c
    for c in (
        Configuration("bundle", {}, "the bundle as shipped (with its post-processing)", postprocess=None),
        Configuration("dicece", {"lambda_topology": 0}, "base loss only (topological term off)"),
        Configuration(
            "supervoxel",
            {**_term("monai_topo.losses.SupervoxelLoss", alpha=0.5, beta=0.5, critical_norm="critical"),
             "lambda_topology": 0.1},
            "DiceCE + 0.1 x SupervoxelLoss, critical term averaged over the critical voxels",
        ),
        Configuration(
            "supervoxel-paper",
            {**_term("monai_topo.losses.SupervoxelLoss", alpha=0.5, beta=0.5, critical_norm="voxels"),
             "lambda_topology": 1.0},
            "DiceCE + SupervoxelLoss, the paper's normalisation (over all voxels)",
        ),
        Configuration(
            "supervoxel-foreground",
            {**_term("monai_topo.losses.SupervoxelLoss", alpha=0.5, beta=0.5, critical_norm="foreground"),
             "lambda_topology": 1.0},
            "DiceCE + SupervoxelLoss, critical term over the label's foreground volume",
        ),
        Configuration(
            "hu-patches",
            {**_term("monai_topo.losses.PersistenceMatchingLoss", **_PATCHES), "lambda_topology": 0.5},
            "DiceCE + 0.5 x persistence matching (Hu) on 4 random 32^3 patches",
        ),
        Configuration(
            "sat-patches",
            {**_term("monai_topo.losses.SpatialAwareMatchingLoss", **_PATCHES), "lambda_topology": 0.5},
            "DiceCE + 0.5 x spatial-aware matching (SATLoss) on 4 random 32^3 patches",
        ),
        Configuration(
            "betti-prior",
            {**_term("monai_topo.losses.BettiPriorLoss", betti=[1, 0, 0]), "lambda_topology": 0.5},
            "DiceCE + 0.5 x Betti prior (1, 0, 0), no target",
        ),
        Configuration(
            "cldice",
            {**_term("monai.losses.SoftclDiceLoss", iter_=3), "lambda_topology": 1.0, "topology_warmup": 0},
            "DiceCE + MONAI soft clDice (SoftDiceclDiceLoss's clDice part), from epoch 1",
        ),
        Configuration(
            "skeleton-recall",
            {**_term("monai_topo.losses.SkeletonRecallLoss", batch=True), "lambda_topology": 1.0, "topology_warmup": 0},
            "DiceCE + Skeleton Recall, from epoch 1",
        ),
    )
}


def _preset(name: str, spec: str, source: str) -> Configuration:
    """Preset ``spec`` (``NAME`` or ``NAME+post``) under the configuration name ``name``."""
    base = spec.removesuffix(POST_SUFFIX)
    if base not in PRESETS:
        raise ValueError(f"{source}: configuration {name!r} names an unknown preset {spec!r}; {_known()}.")
    preset = PRESETS[base]
    if spec.endswith(POST_SUFFIX):
        description = f"{preset.description}; + the bundle's post-processing, min_size chosen on validation"
        return Configuration(name, copy.deepcopy(preset.overrides), description, postprocess=AUTO)
    return Configuration(name, copy.deepcopy(preset.overrides), preset.description, copy.deepcopy(preset.postprocess))


def _from_spec(name: str, spec: Any, source: str) -> Configuration:
    if isinstance(spec, str):
        return _preset(name, spec, source)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{source}: configuration {name!r} must be a preset name or a mapping, got {spec!r}.")
    unknown = set(spec) - {"preset", "overrides", "description", "postprocess"}
    if unknown:
        raise ValueError(
            f"{source}: configuration {name!r} has unknown keys {sorted(unknown)} "
            "(allowed: 'preset', 'overrides', 'postprocess', 'description')."
        )
    overrides: dict[str, Any] = {}
    description = ""
    postprocess: dict[str, Any] | str | None = {}
    if "preset" in spec:
        base = _from_spec(name, spec["preset"], source)
        overrides, description, postprocess = base.overrides, base.description, base.postprocess
    if "postprocess" in spec:
        postprocess = copy.deepcopy(spec["postprocess"])
    extra = spec.get("overrides", {})
    if not isinstance(extra, Mapping):
        raise ValueError(f"{source}: 'overrides' of {name!r} must be a mapping of bundle keys to values.")
    overrides.update(copy.deepcopy(dict(extra)))
    return Configuration(name, overrides, str(spec.get("description", description or "custom")), postprocess)


def _known() -> str:
    return "known presets: " + ", ".join(PRESETS) + f" (each also as NAME{POST_SUFFIX})"


def load_configurations(path: str | os.PathLike) -> list[Configuration]:
    """Read configurations from a JSON or YAML file (see the module docstring for the format).

    Args:
        path: a ``.json``, ``.yaml`` or ``.yml`` file mapping names to presets or override mappings.

    Returns:
        the configurations in file order.

    Raises:
        ValueError: for an unreadable file, a bad format or an unknown preset (naming the file).

    Example:
        >>> import tempfile, json
        >>> f = Path(tempfile.mkdtemp()) / "c.json"
        >>> _ = f.write_text(json.dumps({"base": "dicece", "sv5": {"preset": "supervoxel",
        ...                                                        "overrides": {"lambda_topology": 5}}}))
        >>> [(c.name, c.overrides.get("lambda_topology")) for c in load_configurations(f)]
        [('base', 0), ('sv5', 5)]
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ValueError(f"cannot read the configuration file {path}: {err}") from err
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        errors: tuple[type[Exception], ...] = (yaml.YAMLError,)
        parse = yaml.safe_load
    else:
        errors, parse = (json.JSONDecodeError,), json.loads
    try:
        data = parse(text)
    except errors as err:
        raise ValueError(f"the configuration file {path} is not valid {path.suffix[1:].upper()}: {err}") from err
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"{path}: expected a non-empty mapping of configuration names to presets or overrides.")
    return [_from_spec(str(name), spec, str(path)) for name, spec in data.items()]


def resolve_configurations(
    names: Sequence[str | Configuration] = (), config_file: str | os.PathLike | None = None
) -> list[Configuration]:
    """Preset names, :class:`Configuration` objects and a configuration file, as one checked list.

    Raises:
        ValueError: for an unknown preset name, duplicate names, or fewer than one configuration.

    Example:
        >>> [c.name for c in resolve_configurations(["dicece", "supervoxel"])]
        ['dicece', 'supervoxel']
        >>> [(c.name, c.postprocess) for c in resolve_configurations(["dicece", "dicece+post", "bundle"])]
        [('dicece', {}), ('dicece+post', 'auto'), ('bundle', None)]
    """
    configurations: list[Configuration] = []
    for item in names:
        if isinstance(item, Configuration):
            configurations.append(item)
        elif isinstance(item, str) and item.removesuffix(POST_SUFFIX) in PRESETS:
            configurations.append(_preset(item, item, "presets"))
        else:
            raise ValueError(f"unknown configuration {item!r}; {_known()} (or give a --config-file).")
    if config_file is not None:
        configurations += load_configurations(config_file)
    seen: set[str] = set()
    for c in configurations:
        if c.name in seen:
            raise ValueError(f"configuration name {c.name!r} is used twice.")
        seen.add(c.name)
    if not configurations:
        raise ValueError(f"no configuration given; {_known()}.")
    return configurations
