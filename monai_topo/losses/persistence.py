"""Shared machinery of the persistence-diagram losses (Hu, SATLoss, Betti prior). Internal.

Every such loss runs the same loop, implemented once here:

1. MONAI input handling (:class:`monai_topo.losses.base.TopologyLoss`): activation, one-hot target, background
   removal, shape checks, activation/input mismatch. Half-precision logits are cast to float32 first.
2. A detached CPU view of the probabilities (and target); each work item converts only its own window to
   float64 numpy, so random patches never copy the whole volume.
3. Work items = sample x channel x window (the whole image, tiles, or seeded random patches). Each item's
   diagrams and matching (numpy only: cripser, POT) run on a thread pool (cripser releases the GIL).
4. The items return *flat indices* of critical voxels into ``p.reshape(-1)`` plus constants; the loss gathers
   ``p.reshape(-1)[index]`` once, on the original device, and evaluates a closed form, so autograd delivers a
   sparse gradient to exactly the critical voxels (no custom backward).
5. Per-item sums give a ``(B, C)`` tensor, reduced like MONAI (:func:`monai_topo.losses.utils.reduce_per_item`;
   ``reduction="none"`` gives ``(B, C, 1, ..., 1)`` as ``DiceLoss``).

Essential features. A 2D/3D image has one essential class (dimension 0: the component that never dies).
``essential_death="zero"`` (default) gives it the death value 0, the end of the superlevel filtration of a
probability map (``docs/algorithms.md``, "Conventions"); the death is then a constant with no gradient and
the point is ``(max p, 0)``. This keeps a correct prediction of a patch that lies entirely inside the object
(target diagram ``{(1, 0)}``) at zero loss. ``essential_death="min"`` uses the image minimum instead (the
finite death of :func:`monai_topo.topology.compute_persistence`, at the argmin voxel, which then receives a
gradient); a constant map then has no feature at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.utils import LossReduction

from monai_topo.losses.base import TopologyLoss
from monai_topo.losses.utils import reduce_per_item
from monai_topo.topology import compute_persistence
from monai_topo.topology.betti import patch_slices
from monai_topo.topology.matching import normalize_locations
from monai_topo.topology.validation import check_connectivity, check_num_workers, resolve_num_workers

__all__ = ["ESSENTIAL_DEATHS", "DiagramPoints", "ItemResult", "PersistenceLossBase", "WorkItem"]

ESSENTIAL_DEATHS = ("zero", "min")

Window = tuple[slice, ...]


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: sample ``b``, channel ``c``, spatial ``window`` of the ``(B, C, *spatial)`` map.

    Attributes:
        item: row of the ``(B * C)`` per-item loss vector (``b * C + c``).
        b, c: sample and channel.
        window: the slices of the spatial window.
        offset: flat index of voxel ``(b, c, 0, ..., 0)`` in ``p.reshape(-1)``.
        spatial_shape: spatial shape of the full map.
        context: per-call data of channel ``c`` the loss needs in :meth:`PersistenceLossBase._process_item`
            (e.g. the Betti prior of the channel); ``None`` when the loss has none.
    """

    item: int
    b: int
    c: int
    window: Window
    offset: int
    spatial_shape: tuple[int, ...]
    context: Any = None

    def global_index(self, local_coords: np.ndarray) -> np.ndarray:
        """Flat indices into ``p.reshape(-1)`` of window-local voxel coordinates ``(n, ndim)``."""
        starts = np.array([s.start for s in self.window], np.int64)
        coords = np.asarray(local_coords, np.int64).reshape(-1, len(self.spatial_shape)) + starts
        return np.ravel_multi_index(tuple(coords.T), self.spatial_shape).astype(np.int64) + self.offset


@dataclass(frozen=True)
class DiagramPoints:
    """The points of one diagram a loss acts on, with global critical-voxel indices.

    Attributes:
        dims, births, deaths: as :class:`monai_topo.topology.PersistenceDiagram`, after the essential-death
            convention (a ``"zero"`` essential point has death 0).
        birth_index, death_index: flat indices into ``p.reshape(-1)``.
        death_fixed: whether the death is the constant 0 (essential point, ``essential_death="zero"``).
        locations: birth voxel normalised per axis to ``[0, 1]`` within the window (``(n, 0)`` unless asked for).
    """

    dims: np.ndarray
    births: np.ndarray
    deaths: np.ndarray
    birth_index: np.ndarray
    death_index: np.ndarray
    death_fixed: np.ndarray
    locations: np.ndarray

    @property
    def persistence(self) -> np.ndarray:
        return self.births - self.deaths

    def select(self, rows: np.ndarray) -> DiagramPoints:
        return DiagramPoints(
            self.dims[rows],
            self.births[rows],
            self.deaths[rows],
            self.birth_index[rows],
            self.death_index[rows],
            self.death_fixed[rows],
            self.locations[rows],
        )

    def in_dim(self, dim: int) -> DiagramPoints:
        return self.select(np.flatnonzero(self.dims == dim))

    @staticmethod
    def concatenate(parts: Sequence[DiagramPoints], ndim: int) -> DiagramPoints:
        if not parts:
            i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
            return DiagramPoints(i, f, f, i, i, np.zeros(0, bool), np.zeros((0, ndim)))
        return DiagramPoints(
            *[np.concatenate([getattr(p, k) for p in parts]) for k in DiagramPoints.__dataclass_fields__]
        )


@dataclass(frozen=True)
class ItemResult:
    """What one work item of the Hu and Betti-prior losses returns: points, one flag per point, a constant.

    Attributes:
        points: the diagram points the loss acts on.
        flags: per point, ``True`` when it is pulled to the perfect corner (matched / wanted), ``False`` when it
            is pushed to the diagonal.
        constant: the part of the item's loss with no gradient (target points left without a partner).
    """

    points: DiagramPoints
    flags: np.ndarray
    constant: float


def _check_dims(dims: Sequence[int] | int | None) -> tuple[int, ...] | None:
    if dims is None:
        return None
    if isinstance(dims, (int, np.integer)):
        dims = (int(dims),)
    try:
        out = tuple(sorted({int(d) for d in dims}))
    except (TypeError, ValueError):
        raise ValueError(f"dims must be None or a sequence of homology dimensions in {{0, 1, 2}}, got {dims!r}.")
    if not out or any(d < 0 or d > 2 for d in out) or any(int(d) != d for d in dims):
        raise ValueError(
            f"dims must be None or a non-empty sequence of homology dimensions in {{0, 1, 2}}, got {dims!r}."
        )
    return out


class PersistenceLossBase(TopologyLoss):
    """Base of the persistence-diagram losses: input handling, work items, thread pool, gather, reduction.

    Subclasses implement :meth:`_process_item` (numpy, runs on the thread pool) and :meth:`_item_losses`
    (torch, gathers and evaluates). See the module docstring for the pipeline and the essential convention.

    Random patches. With ``patch_size`` and ``num_patches`` set, every forward call draws new windows for every
    sample from a numpy ``Generator`` seeded with ``seed`` and advanced at each call: the sequence of patches is
    reproducible for a given seed, and each call sees fresh patches (Hu et al. resample every iteration). Call
    :meth:`set_random_state` to restart the sequence (or re-seed); ``seed=None`` draws from OS entropy.
    """

    def __init__(
        self,
        include_background: bool = True,
        to_onehot_y: bool = False,
        sigmoid: bool | None = None,
        softmax: bool = False,
        other_act: Callable | None = None,
        reduction: LossReduction | str = LossReduction.MEAN,
        dims: Sequence[int] | int | None = None,
        connectivity: int | None = None,
        min_persistence: float = 0.0,
        patch_size: int | Sequence[int] | None = None,
        num_patches: int | None = None,
        seed: int | None = 0,
        num_workers: int | None = None,
        essential_death: str = "zero",
    ) -> None:
        super().__init__(include_background, to_onehot_y, sigmoid, softmax, other_act, reduction)
        self.dims = _check_dims(dims)
        self.connectivity = check_connectivity(connectivity)
        min_persistence = float(min_persistence)
        if not np.isfinite(min_persistence) or min_persistence < 0:
            raise ValueError(f"min_persistence must be a finite number >= 0, got {min_persistence}.")
        self.min_persistence = min_persistence
        if patch_size is not None:
            sizes = (patch_size,) if isinstance(patch_size, (int, np.integer)) else tuple(patch_size)
            if not sizes or any(not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
                raise ValueError(
                    f"patch_size must be None, a positive int or a tuple of positive ints, got {patch_size!r}."
                )
            patch_size = int(patch_size) if isinstance(patch_size, (int, np.integer)) else tuple(int(s) for s in sizes)
        if num_patches is not None:
            if patch_size is None:
                raise ValueError(
                    "num_patches needs patch_size: set patch_size, or num_patches=None for the whole image."
                )
            if not isinstance(num_patches, (int, np.integer)) or num_patches < 1:
                raise ValueError(f"num_patches must be None (tile the image) or a positive int, got {num_patches!r}.")
        self.patch_size = patch_size
        self.num_patches = None if num_patches is None else int(num_patches)
        self.num_workers = check_num_workers(num_workers)
        if essential_death not in ESSENTIAL_DEATHS:
            raise ValueError(f"essential_death must be one of {ESSENTIAL_DEATHS}, got {essential_death!r}.")
        self.essential_death = essential_death
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int or None, got {seed!r}.")
        self.set_random_state(seed)

    # ------------------------------------------------------------------ configuration
    def set_random_state(self, seed: int | None = None) -> PersistenceLossBase:
        """(Re)start the random patch sequence from ``seed`` (``None``: OS entropy). Returns ``self``."""
        self.seed = None if seed is None else int(seed)
        self._rng = np.random.default_rng(self.seed)
        return self

    def extra_repr(self) -> str:
        return (
            f"dims={self.dims}, connectivity={self.connectivity}, min_persistence={self.min_persistence}, "
            f"patch_size={self.patch_size}, num_patches={self.num_patches}, reduction={self.reduction!r}"
        )

    # ------------------------------------------------------------------ forward pipeline
    def _activate(self, input: torch.Tensor, target: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checks and activation (:meth:`TopologyLoss._prepare`); the prediction is computed in float32 at least."""
        p, t = self._prepare(input, target)
        if p.dtype in (torch.float16, torch.bfloat16):
            p = p.float()
        return p, t

    def _resolve_dims(self, ndim: int) -> tuple[int, ...]:
        dims = tuple(range(ndim)) if self.dims is None else self.dims
        if max(dims) > ndim - 1:
            raise ValueError(f"dims={dims} is invalid for {ndim}D images: homology dimensions go up to {ndim - 1}.")
        check_connectivity(self.connectivity, ndim)
        return dims

    def _windows(self, spatial_shape: tuple[int, ...], batch: int) -> list[list[Window]]:
        ndim = len(spatial_shape)
        if self.patch_size is None:
            return [[tuple(slice(0, s) for s in spatial_shape)]] * batch
        if not isinstance(self.patch_size, int) and len(self.patch_size) != ndim:
            raise ValueError(f"patch_size={self.patch_size} has {len(self.patch_size)} entries for {ndim}D images.")
        if self.num_patches is None:
            return [patch_slices(spatial_shape, self.patch_size, None)] * batch
        seeds = self._rng.integers(0, 2**63 - 1, size=batch)
        return [patch_slices(spatial_shape, self.patch_size, self.num_patches, int(s)) for s in seeds]

    def _work_items(self, shape: tuple[int, ...], context: Sequence[Any] | None = None) -> list[WorkItem]:
        """Work items of a ``(B, C, *spatial)`` map; ``context[c]`` (if given) travels with channel ``c``'s items."""
        batch, channels, spatial = shape[0], shape[1], tuple(int(s) for s in shape[2:])
        n_vox = int(np.prod(spatial))
        windows = self._windows(spatial, batch)
        items = []
        for b in range(batch):
            for c in range(channels):
                item = b * channels + c
                ctx = None if context is None else context[c]
                items.extend(WorkItem(item, b, c, w, item * n_vox, spatial, ctx) for w in windows[b])
        return items

    def _map(self, fn: Callable[[WorkItem], Any], items: Sequence[WorkItem]) -> list[Any]:
        """``[fn(item) for item in items]`` on a thread pool, in order."""
        workers = resolve_num_workers(self.num_workers, len(items))
        if workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    def _diagram_points(
        self, values: np.ndarray, item: WorkItem, dims: tuple[int, ...], with_locations: bool = False
    ) -> DiagramPoints:
        """Superlevel diagram of ``values`` (one window), restricted to ``dims`` and persistence > min_persistence."""
        dgm = compute_persistence(values, filtration="superlevel", connectivity=self.connectivity, maxdim=max(dims))
        keep = np.isin(dgm.dims, dims)
        deaths = dgm.deaths.copy()
        fixed = dgm.essential & (self.essential_death == "zero")
        deaths[fixed] = 0.0
        keep &= (dgm.births - deaths) > self.min_persistence
        rows = np.flatnonzero(keep)
        return DiagramPoints(
            dims=dgm.dims[rows],
            births=dgm.births[rows],
            deaths=deaths[rows],
            birth_index=item.global_index(dgm.birth_coords[rows]),
            death_index=item.global_index(dgm.death_coords[rows]),
            death_fixed=fixed[rows],
            locations=(
                normalize_locations(dgm.birth_coords[rows], dgm.shape)
                if with_locations
                else np.zeros((rows.shape[0], 0))
            ),
        )

    @staticmethod
    def _gather(p_flat: torch.Tensor, points: DiagramPoints) -> tuple[torch.Tensor, torch.Tensor]:
        """Birth and death values of ``points`` gathered from the autograd graph (death 0 where fixed)."""
        device = p_flat.device
        births = p_flat[torch.as_tensor(points.birth_index, device=device)]
        deaths = p_flat[torch.as_tensor(points.death_index, device=device)]
        if points.death_fixed.any():
            deaths = torch.where(torch.as_tensor(points.death_fixed, device=device), torch.zeros_like(deaths), deaths)
        return births, deaths

    @staticmethod
    def _segment_sum(
        values: torch.Tensor, run_items: Sequence[int], run_lengths: Sequence[int], num_items: int
    ) -> torch.Tensor:
        """Sum ``values`` per item into a ``(num_items,)`` vector, deterministically (no atomics).

        ``values`` is the concatenation of runs in work-item order; run ``r`` has ``run_lengths[r]`` entries and
        belongs to item ``run_items[r]`` (non-decreasing, as :meth:`_work_items` orders them).
        """
        if values.numel() == 0:
            return values.new_zeros(num_items)
        run_items = np.asarray(run_items, np.int64)
        if np.any(np.diff(run_items) < 0):
            raise RuntimeError("internal error: runs must be ordered by item.")
        lengths = np.bincount(run_items, weights=np.asarray(run_lengths, np.float64), minlength=num_items)
        lengths_t = torch.as_tensor(lengths.astype(np.int64), device=values.device)
        return torch.segment_reduce(values, "sum", lengths=lengths_t)

    def _run(self, input: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor:
        """The whole pipeline; returns the reduced loss."""
        p, t = self._activate(input, target)
        dims = self._resolve_dims(p.ndim - 2)
        # float64 copies are made per window: with patches, never of the whole volume
        p_cpu = p.detach().cpu()
        t_cpu = None if t is None else t.detach().cpu()
        items = self._work_items(tuple(p.shape), self._channel_context(p.shape[1], p.ndim - 2))

        def work(item: WorkItem) -> Any:
            index = (item.b, item.c, *item.window)
            pred = p_cpu[index].to(torch.float64).numpy()
            tgt = None if t_cpu is None else t_cpu[index].to(torch.float64).numpy()
            return self._process_item(pred, tgt, item, dims)

        results = self._map(work, items)
        batch, channels = p.shape[0], p.shape[1]
        p_flat = p.reshape(-1)
        per_item = self._item_losses(p_flat, items, results, batch * channels)
        # keep the graph connected even when no item has a feature (loss.backward() must work)
        per_item = per_item + p_flat[:1].sum() * 0.0
        return reduce_per_item(per_item.reshape(batch, channels), self.reduction, p.ndim - 2)

    def _flagged_item_losses(
        self,
        p_flat: torch.Tensor,
        items: Sequence[WorkItem],
        results: Sequence[ItemResult],
        num_items: int,
        cost: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Per-item sums of ``cost(births, deaths, flags)`` over the results' points, plus their constants."""
        points = DiagramPoints.concatenate([r.points for r in results], 0)
        flags = torch.as_tensor(np.concatenate([r.flags for r in results]), device=p_flat.device)
        births, deaths = self._gather(p_flat, points)
        run_items = [it.item for it in items]
        per_item = self._segment_sum(cost(births, deaths, flags), run_items, [len(r.flags) for r in results], num_items)
        constant = np.zeros(num_items)
        np.add.at(constant, run_items, [float(r.constant) for r in results])
        return per_item + torch.as_tensor(constant, dtype=per_item.dtype, device=per_item.device)

    # ------------------------------------------------------------------ subclass hooks
    def _channel_context(self, channels: int, ndim: int) -> Sequence[Any] | None:
        """Per-channel data for this call, carried by the work items (:attr:`WorkItem.context`); none by default."""
        return None

    def _process_item(self, pred: np.ndarray, target: np.ndarray | None, item: WorkItem, dims: tuple[int, ...]) -> Any:
        """Numpy work of one item (thread pool): diagrams and matching. Returns what :meth:`_item_losses` needs."""
        raise NotImplementedError

    def _item_losses(
        self, p_flat: torch.Tensor, items: Sequence[WorkItem], results: Sequence[Any], num_items: int
    ) -> torch.Tensor:
        """Torch side: gather at the critical voxels, evaluate, sum per item into a ``(num_items,)`` tensor."""
        raise NotImplementedError
