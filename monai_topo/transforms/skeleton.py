"""The Skeleton Recall target as MONAI transforms: one tubed-skeleton channel per class of a label.

:class:`SkeletonTube` (array) and :class:`SkeletonTubed` (dictionary) build, in the data pipeline, the tube that
:class:`monai_topo.losses.SkeletonRecallLoss` would otherwise build from the label at every training step.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import ClassVar

import numpy as np
import torch
from monai.config import DtypeLike, KeysCollection
from monai.config.type_definitions import NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import TransformBackends, convert_data_type, convert_to_dst_type

from monai_topo.topology.skeleton import check_tube_radius, tubed_skeletons
from monai_topo.topology.validation import check_num_workers

__all__ = ["SkeletonTube", "SkeletonTubed"]


class SkeletonTube(Transform):
    """Tubed skeleton of every class of a channel-first label (``C H W [D]``), as Kirchhoff et al. (ECCV 2024).

    Each class mask is skeletonised (scikit-image: Zhang 2D, Lee 3D), dilated into a tube of city-block radius
    ``tube_radius`` (the paper's 2) and kept inside the class mask (the paper's choice); see
    :func:`monai_topo.topology.tubed_skeleton` (a channel whose whole mask thins away, in 3D also a thick box of
    even side or a crop that is entirely foreground, is its own tube: the fallback is per channel, not per object).
    The channels are those of the loss's prepared target:

    - a ``1 H W [D]`` class-label map with ``num_classes=K``: one-hot into ``K`` channels (labels must be integers
      in ``[0, K - 1]``), then channel 0 (background) dropped unless ``include_background``: ``K - 1`` channels,
      one per foreground class;
    - a ``C H W [D]`` one-hot / multi-label mask (``C > 1``, ``num_classes`` ``None`` or ``C``): channel 0 dropped
      unless ``include_background``;
    - a ``1 H W [D]`` binary mask without ``num_classes``: one channel (its foreground).

    So give it ``num_classes`` = the network's output channels when the loss has ``to_onehot_y=True``, and the
    loss's ``include_background`` (the default ``False`` here is the paper's; a multi-label sigmoid target without a
    background channel needs ``True``). Put it after the spatial augmentation and cropping, as the paper does (the
    tube of the crop, not a crop of the tube), or list its output key in the later spatial transforms.

    MetaTensor in, MetaTensor out (the label's metadata); torch tensor / numpy array likewise. Works on the CPU.

    Args:
        num_classes: number of classes of a one-channel class-label map (``None``: the label is binary, or one-hot
            when it has several channels).
        include_background: keep the tube of channel 0 (background).
        tube_radius: tube half width in voxels (``0``: the bare skeleton).
        restrict_to_mask: keep the tube inside each class mask.
        dtype: dtype of the output (0/1 values).
        num_workers: threads over the channels (``None``: one per core; default ``1``: data loader workers already
            run in parallel).

    Raises:
        ValueError: for bad options (``num_classes``, ``tube_radius``, ``num_workers``), or (on call) a label that is not 2D/3D channel-first, not finite, not binary
            (one-hot), or with class labels outside ``[0, num_classes - 1]``.

    Example:
        >>> label = torch.zeros(1, 5, 9); label[0, 1:4, 1:8] = 2  # class 2 only
        >>> tube = SkeletonTube(num_classes=3)(label)
        >>> tube.shape, int(tube[0].sum()), int(tube[1].sum())
        (torch.Size([2, 5, 9]), 0, 20)
    """

    backend: ClassVar[list[TransformBackends]] = [TransformBackends.TORCH, TransformBackends.NUMPY]

    def __init__(
        self,
        num_classes: int | None = None,
        include_background: bool = False,
        tube_radius: int = 2,
        restrict_to_mask: bool = True,
        dtype: DtypeLike | torch.dtype = torch.float32,
        num_workers: int | None = 1,
    ) -> None:
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1
        ):
            raise ValueError(f"num_classes must be None or a positive int, got {num_classes!r}.")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.include_background = include_background
        self.tube_radius = check_tube_radius(tube_radius, "tube_radius")
        self.restrict_to_mask = restrict_to_mask
        self.dtype = dtype
        self.num_workers = check_num_workers(num_workers)

    def _masks(self, label: np.ndarray) -> np.ndarray:
        """The binary class masks ``C' H W [D]`` of a checked label (see the class docstring)."""
        channels = label.shape[0]
        if channels == 1 and self.num_classes is not None:
            values = label[0]
            if values.min() < 0 or values.max() >= self.num_classes or not np.array_equal(values, np.round(values)):
                raise ValueError(
                    f"SkeletonTube(num_classes={self.num_classes}) needs integer class labels in "
                    f"[0, {self.num_classes - 1}], found values in [{values.min()}, {values.max()}]."
                )
            masks = np.stack([values == k for k in range(self.num_classes)])
        else:
            if self.num_classes is not None and channels != self.num_classes:
                raise ValueError(
                    f"num_classes={self.num_classes} does not fit a label with {channels} channels: give a "
                    "one-channel class-label map, or a one-hot label with num_classes channels (or num_classes=None)."
                )
            if label.dtype != bool and not np.isin(label, (0, 1)).all():
                raise ValueError(
                    f"SkeletonTube needs a binary / one-hot label (0/1) when num_classes is not given, found values "
                    f"such as {np.unique(label[~np.isin(label, (0, 1))])[:5].tolist()}: set num_classes for a "
                    "class-label map."
                )
            masks = label != 0
        if masks.shape[0] > 1 and not self.include_background:
            masks = masks[1:]
        return masks

    def __call__(self, label: NdarrayOrTensor) -> NdarrayOrTensor:
        """
        Args:
            label: channel-first ``C H W [D]`` label (class-label map, one-hot, or binary mask).

        Returns:
            the tube ``C' H W [D]`` of ``dtype``, of the label's type (MetaTensor with its metadata).
        """
        array = convert_data_type(label, np.ndarray)[0]
        if array.ndim not in (3, 4):
            raise ValueError(
                f"SkeletonTube needs a channel-first 2D or 3D label (C H W [D]), got shape {tuple(array.shape)}."
            )
        if array.size == 0:
            raise ValueError(f"SkeletonTube got an empty label (shape {tuple(array.shape)}).")
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise ValueError("SkeletonTube got a label with NaN or infinite values.")
        tubes = tubed_skeletons(
            self._masks(array),
            spatial_dims=array.ndim - 1,
            radius=self.tube_radius,
            restrict_to_mask=self.restrict_to_mask,
            num_workers=self.num_workers,
        )
        return convert_to_dst_type(tubes, dst=label, dtype=self.dtype)[0]


class SkeletonTubed(MapTransform):
    """Dictionary version of :class:`SkeletonTube`: writes the tube of ``d[key]`` to ``d[f"{key}_{postfix}"]``.

    For users with their own training loop::

        train_transforms = Compose([LoadImaged(["image", "label"]), EnsureChannelFirstd(["image", "label"]),
                                    RandCropByPosNegLabeld(...),
                                    SkeletonTubed("label", num_classes=3)])  # adds "label_skel"
        ...
        loss = SkeletonRecallLoss(softmax=True, to_onehot_y=True, include_background=False)
        value = loss(pred, batch["label"], skeleton=batch["label_skel"])

    ``SupervisedTrainer`` and :class:`monai_topo.losses.TopologyAwareLoss` call ``loss(pred, label)`` only; there
    the loss builds the tube itself and this transform is not needed.

    Args:
        keys: keys of the labels.
        output_key_postfix: the tube of ``key`` is stored under ``f"{key}_{output_key_postfix}"`` (an existing
            entry is overwritten).
        num_classes, include_background, tube_radius, restrict_to_mask, dtype, num_workers: as
            :class:`SkeletonTube`.
        allow_missing_keys: don't raise for missing keys.

    Example:
        >>> label = torch.zeros(1, 5, 9); label[0, 1:4, 1:8] = 1
        >>> out = SkeletonTubed("label")({"label": label})
        >>> sorted(out), int(out["label_skel"].sum())
        (['label', 'label_skel'], 20)
    """

    backend = SkeletonTube.backend

    def __init__(
        self,
        keys: KeysCollection = "label",
        output_key_postfix: str = "skel",
        num_classes: int | None = None,
        include_background: bool = False,
        tube_radius: int = 2,
        restrict_to_mask: bool = True,
        dtype: DtypeLike | torch.dtype = torch.float32,
        num_workers: int | None = 1,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        if not isinstance(output_key_postfix, str) or not output_key_postfix:
            raise ValueError(f"output_key_postfix must be a non-empty string, got {output_key_postfix!r}.")
        self.output_key_postfix = output_key_postfix
        self.tuber = SkeletonTube(
            num_classes=num_classes,
            include_background=include_background,
            tube_radius=tube_radius,
            restrict_to_mask=restrict_to_mask,
            dtype=dtype,
            num_workers=num_workers,
        )

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[f"{key}_{self.output_key_postfix}"] = self.tuber(d[key])
        return d
