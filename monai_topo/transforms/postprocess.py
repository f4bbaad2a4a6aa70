"""Topological post-processing of a predicted label map, built from MONAI's own transforms.

The cheapest topology fix a practitioner tries first: remove the small islands a voxel loss leaves (spurious
components, and the fragments that count as splits), keep the largest object of a single-object organ, fill its
enclosed holes. :class:`TopologyPostprocess` (array) and :class:`TopologyPostprocessd` (dictionary) chain MONAI's
:class:`~monai.transforms.RemoveSmallObjects`, :class:`~monai.transforms.KeepLargestConnectedComponent` and
:class:`~monai.transforms.FillHoles` with the package's connectivity convention, so the islands removed are the
components the Betti numbers and split counts see. Before them, ``max_gap`` joins the pieces of a broken structure
across short gaps (:func:`monai_topo.topology.bridging.bridge_gaps`), so that the fragments of a real break are
kept, not removed. The bundles apply it in ``evaluate.json`` and
``inference.json`` (key ``postprocess``), ``monai-topo compare`` in its ``+post`` configurations: the same class
everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from monai.config import KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import FillHoles, KeepLargestConnectedComponent, MapTransform, RemoveSmallObjects, Transform
from monai.utils import TransformBackends, convert_to_dst_type, convert_to_numpy

from monai_topo.topology.bridging import bridge_gaps
from monai_topo.topology.connectivity import background_connectivity, foreground_connectivity

__all__ = ["POSTPROCESS_OPTIONS", "TopologyPostprocess", "TopologyPostprocessd", "check_postprocess_options"]

#: the options of :class:`TopologyPostprocess` a configuration may set (bundle key ``postprocess``)
POSTPROCESS_OPTIONS = ("max_gap", "min_size", "keep_largest", "fill_holes")

# neighbourhood size -> scikit-image / MONAI connectivity (number of orthogonal hops)
_HOPS = {4: 1, 6: 1, 8: 2, 26: 3}


def check_postprocess_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Checked post-processing options: ``{}`` (or ``None``) for none, else a subset of :data:`POSTPROCESS_OPTIONS`.

    ``min_size`` may also be ``"auto"`` where a caller chooses it on a validation split
    (``monai-topo compare``); the transform itself needs an integer.

    Raises:
        ValueError: for an unknown key or a bad value, naming it.

    Example:
        >>> check_postprocess_options({"min_size": 32})
        {'min_size': 32}
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"post-processing options must be a mapping such as {{'min_size': 32}}, got {options!r}.")
    unknown = sorted(set(options) - set(POSTPROCESS_OPTIONS))
    if unknown:
        raise ValueError(f"unknown post-processing option(s) {unknown}; known: {list(POSTPROCESS_OPTIONS)}.")
    checked = dict(options)
    size = checked.get("min_size", 0)
    if size != "auto" and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0):
        raise ValueError(f"post-processing min_size must be a non-negative integer (voxels) or 'auto', got {size!r}.")
    gap = checked.get("max_gap", 0)
    if isinstance(gap, bool) or not isinstance(gap, (int, float, np.integer, np.floating)) or not 0 <= gap < np.inf:
        raise ValueError(f"post-processing max_gap must be a non-negative number of voxels, got {gap!r}.")
    for key in ("keep_largest", "fill_holes"):
        if not isinstance(checked.get(key, False), bool):
            raise ValueError(f"post-processing {key} must be true or false, got {checked[key]!r}.")
    return checked


class TopologyPostprocess(Transform):
    """Bridge short gaps, remove small islands, keep the largest object, fill enclosed holes of a label map.

    In this order, each step only when asked for:

    0. ``max_gap >= 1``: :func:`~monai_topo.topology.bridging.bridge_gaps` joins each piece of each label to its
       nearest other pieces of that label when their closest voxels are at most ``max_gap`` voxels apart, by
       straight digital lines between those closest voxels (never across another label);
    1. ``min_size > 0``: :class:`monai.transforms.RemoveSmallObjects` removes the foreground components (all
       non-zero labels together, ``independent_channels=False``) of fewer than ``min_size`` voxels (scikit-image's
       rule: from version 0.26 on, components of at most ``min_size`` voxels);
    2. ``keep_largest``: :class:`monai.transforms.KeepLargestConnectedComponent` keeps the largest component of each
       label;
    3. ``fill_holes``: :class:`monai.transforms.FillHoles` fills the background regions enclosed by one label.

    Components follow the package's connectivity (``None``: 26 in 3D / 8 in 2D for the foreground, 6 / 4 for the
    holes, as the Betti numbers count them; 6 / 4: the V-construction).

    Args:
        min_size: remove foreground components smaller than this (voxels); ``0``: keep all.
        max_gap: join pieces of a label at most this far apart (voxels, centre to centre) first; ``0``: none.
            Objects of the same label closer than this are joined too (a merge).
        keep_largest: keep only the largest component of each label (a single-object organ).
        fill_holes: fill enclosed background (cavities in 3D, holes in 2D).
        connectivity: foreground connectivity (see :mod:`monai_topo.topology.connectivity`).

    Input: a ``1 H W [D]`` label map (after ``argmax``), integer or float values; output of the same type.

    Raises:
        ValueError: for bad options, or (on call) an input that is not a 2D/3D one-channel label map.

    Example:
        >>> label = torch.zeros(1, 8, 8, 8)
        >>> label[0, 1:5, 1:5, 1:5] = 1; label[0, 7, 7, 7] = 1          # an object and a one-voxel island
        >>> int(TopologyPostprocess(min_size=8)(label).sum())
        64
        >>> broken = torch.zeros(1, 1, 12); broken[0, 0, :4] = 1; broken[0, 0, 7:] = 1   # a break of 3 voxels
        >>> int(TopologyPostprocess(max_gap=4)(broken).sum())                            # bridged: 12 voxels
        12
    """

    backend: ClassVar[list[TransformBackends]] = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        min_size: int = 0,
        keep_largest: bool = False,
        fill_holes: bool = False,
        connectivity: int | None = None,
        max_gap: float = 0,
    ) -> None:
        options = check_postprocess_options(
            {"max_gap": max_gap, "min_size": min_size, "keep_largest": keep_largest, "fill_holes": fill_holes}
        )
        if options["min_size"] == "auto":
            raise ValueError("min_size='auto' is chosen by the caller on a validation split; give a number of voxels.")
        self.min_size = int(options["min_size"])
        self.max_gap = float(options["max_gap"])
        self.keep_largest = bool(keep_largest)
        self.fill_holes = bool(fill_holes)
        self.connectivity = connectivity

    @property
    def active(self) -> bool:
        """Whether the transform changes anything at all."""
        return self.max_gap >= 1 or self.min_size > 0 or self.keep_largest or self.fill_holes

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            img: ``1 H W [D]`` label map.

        Returns:
            the post-processed label map, same type, shape and dtype.
        """
        if img.ndim not in (3, 4) or img.shape[0] != 1:
            raise ValueError(
                f"TopologyPostprocess expects a channel-first label map 1 H W [D] (after argmax), got shape "
                f"{tuple(img.shape)}."
            )
        if not self.active:
            return img
        ndim = img.ndim - 1
        fg = _HOPS[foreground_connectivity(self.connectivity, ndim)]
        bg = _HOPS[background_connectivity(self.connectivity, ndim)]
        # KeepLargestConnectedComponent and FillHoles write into their input: work on a copy, never the caller's
        if self.max_gap >= 1:  # bridge_gaps returns a new array: that is the copy
            bridged = bridge_gaps(convert_to_numpy(img)[0], self.max_gap, self.connectivity)
            out = convert_to_dst_type(bridged[None], img, dtype=img.dtype)[0]
        else:
            out = img.clone() if isinstance(img, torch.Tensor) else np.array(img, copy=True)
        if self.min_size > 0:
            with warnings.catch_warnings():  # scikit-image >= 0.26 deprecates the min_size MONAI passes
                warnings.filterwarnings("ignore", message=".*min_size.*", category=FutureWarning)
                out = RemoveSmallObjects(min_size=self.min_size, connectivity=fg, independent_channels=False)(out)
        labels = [int(v) for v in (torch.unique(out) if isinstance(out, torch.Tensor) else np.unique(out)) if v != 0]
        if labels and self.keep_largest:
            out = KeepLargestConnectedComponent(applied_labels=labels, is_onehot=False, connectivity=fg)(out)
        if labels and self.fill_holes:
            out = FillHoles(applied_labels=labels, connectivity=bg)(out)
        return convert_to_dst_type(out, img, dtype=img.dtype)[0]  # MONAI may return a MetaTensor for numpy input


class TopologyPostprocessd(MapTransform):
    """Dictionary version of :class:`TopologyPostprocess`, e.g. on ``"pred"`` after ``AsDiscreted(argmax=True)``.

    In a bundle config, with the options under one key: ``"$monai_topo.transforms.TopologyPostprocessd(keys='pred',
    **@postprocess)"`` where ``"postprocess": {"min_size": 32}`` (``{}``: no post-processing).

    Example:
        >>> data = {"pred": torch.zeros(1, 6, 6)}
        >>> data["pred"][0, 1:4, 1:4] = 1; data["pred"][0, 2, 2] = 0   # a ring: its hole is filled
        >>> int(TopologyPostprocessd("pred", fill_holes=True)(data)["pred"].sum())
        9
    """

    backend = TopologyPostprocess.backend

    def __init__(
        self,
        keys: KeysCollection,
        min_size: int = 0,
        keep_largest: bool = False,
        fill_holes: bool = False,
        connectivity: int | None = None,
        allow_missing_keys: bool = False,
        max_gap: float = 0,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.transform = TopologyPostprocess(min_size, keep_largest, fill_holes, connectivity, max_gap)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d
