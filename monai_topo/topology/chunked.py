"""Exact Betti numbers, Euler characteristic and split/merge counts of chunked volumes (``dask.array``).

The volume is never loaded whole. Each chunk, read with a one-voxel halo, is summarised by one task:

- its foreground and background components (labelled in the chunk only) and the labels on its faces
  that touch a neighbouring chunk;
- the background labels that touch the outer border of the whole volume;
- its share of the Euler characteristic: every cell of the cubical complex is counted by exactly one chunk
  (the one holding the voxel at the cell's upper corner in the T-construction, its lower corner in the
  V-construction), the halo shows the neighbours it needs.

Only these summaries come back to the client, which merges the labels that touch across every chunk
boundary plane (with the connectivity's diagonal neighbours, so edges and corners of the chunk grid are
covered) in a union-find over the boundary labels (:func:`scipy.sparse.csgraph.connected_components`).
Then ``b0`` = foreground classes, ``b_{d-1}`` = background classes that touch no border, and in 3D
``b1 = b0 + b2 - chi``: equal to :func:`monai_topo.topology.betti_numbers` for both constructions.

Peak memory is a few chunks per worker thread plus the face labels (one 8-byte id per voxel on the internal
chunk faces) and the union-find over the labels that touch a chunk boundary. Any dask scheduler runs the
chunk tasks: the default threads, or a ``dask.distributed`` client when one is active.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import (
    Connectivity,
    background_connectivity,
    foreground_connectivity,
    resolve_connectivity,
)
from monai_topo.topology.euler import combine_neighbours

__all__ = [
    "ChunkedPairTopology",
    "ChunkedTopology",
    "chunked_betti_numbers",
    "chunked_component_count",
    "chunked_euler_characteristic",
    "chunked_pair_topology",
    "chunked_split_merge_counts",
    "chunked_topology",
    "compute_tasks",
    "is_dask_array",
]

_FULL = {8, 26}  # connectivities with diagonal neighbours across a chunk face


def is_dask_array(value: object) -> bool:
    """Whether ``value`` is a ``dask.array.Array`` (checked without importing dask).

    Example:
        >>> is_dask_array(np.zeros(3))
        False
    """
    return type(value).__module__.split(".")[0] == "dask" and hasattr(value, "chunks")


@dataclass
class ChunkedTopology:
    """Topology of one chunked binary mask.

    Attributes:
        betti: ``int64`` Betti numbers ``(b0, b1[, b2])``.
        euler: Euler characteristic of the mask's cubical complex.
        voxels: number of foreground voxels.
        components: number of foreground components (``b0``).
    """

    betti: np.ndarray
    euler: int
    voxels: int

    @property
    def components(self) -> int:
        return int(self.betti[0])


@dataclass
class ChunkedPairTopology:
    """Topology of a prediction and a target chunked alike, and how their components overlap.

    Attributes:
        pred: the prediction's :class:`ChunkedTopology`.
        target: the target's :class:`ChunkedTopology` (Betti numbers of ``target != 0``).
        splits: target objects overlapped by ``k >= 2`` predicted components count ``k - 1`` each.
        merges: predicted components overlapping ``k >= 2`` target objects count ``k - 1`` each.
        intersection: voxels where both are foreground (for Dice).
    """

    pred: ChunkedTopology
    target: ChunkedTopology
    splits: int
    merges: int
    intersection: int


@dataclass
class _Labels:
    """One chunk's components of one phase: how many, and the labels on its internal faces."""

    n: int
    low: list[np.ndarray | None]  # per axis: labels of the chunk's first slice, None on the volume border
    high: list[np.ndarray | None]  # per axis: labels of the last slice, None on the volume border
    border: np.ndarray | None = None  # background only: labels touching the volume's outer border


@dataclass
class _Summary:
    """What one chunk task sends back, per volume."""

    voxels: int
    chi: int
    fg: _Labels
    bg: _Labels | None


@dataclass
class _PairSummary:
    volumes: list[_Summary]
    overlap: np.ndarray | None = None  # (k, 2) distinct (pred label, target label) pairs that share a voxel
    intersection: int = 0


def _check_dask_mask(mask: Any, name: str) -> None:
    if not is_dask_array(mask):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(mask).__name__}.")
    if mask.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D or 3D array (spatial dimensions only), got shape {mask.shape}.")
    if any(s == 0 for s in mask.shape):
        raise ValueError(f"{name} is empty (shape {mask.shape}).")
    if any(np.isnan(s) for s in mask.shape):
        raise ValueError(f"{name} has unknown chunk sizes; call {name}.compute_chunk_sizes() first.")
    dtype = np.dtype(mask.dtype)
    if not (np.issubdtype(dtype, np.number) or dtype == bool) or np.issubdtype(dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real numeric or boolean array, got dtype {dtype}.")


def _block_mask(block: np.ndarray, name: str, location: tuple[int, ...], binary: bool = True) -> np.ndarray:
    """The chunk as a boolean array, after checking it holds only 0 and 1 (``binary``) and no NaN."""
    block = np.asarray(block)
    if block.dtype == bool:
        return np.ascontiguousarray(block)
    if np.issubdtype(block.dtype, np.floating) and not np.isfinite(block).all():
        raise ValueError(f"{name}: chunk {location} contains NaN or infinite values; topology is undefined on them.")
    if binary:
        bad = (block != 0) & (block != 1)
        if bad.any():
            values = np.unique(block[bad])[:5].tolist()
            raise ValueError(
                f"{name} must be binary (0/1); chunk {location} holds values such as {values}. Threshold it first "
                "(e.g. mask > 0.5) or select one label (mask == k)."
            )
    elif np.issubdtype(block.dtype, np.floating) and (block != np.round(block)).any():
        raise ValueError(f"{name}: chunk {location} holds non-integer values; instance ids must be integers.")
    elif (block < 0).any():
        raise ValueError(f"{name}: chunk {location} holds negative values; instance ids must be >= 0.")
    return np.ascontiguousarray(block != 0)


def _take(arr: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    index = [slice(None)] * arr.ndim
    index[axis] = slice(start, stop)
    return arr[tuple(index)]


def _local_euler(ext: np.ndarray, last: Sequence[bool], construction: str) -> int:
    """Euler characteristic share of one chunk, from the chunk with a one-voxel halo on every side.

    Boundary positions along an axis are the planes between voxels ``j - 1`` and ``j``. In the T-construction a
    chunk owns the positions ``j`` of its own voxels (and the volume's far border when it is the last chunk
    along the axis); in the V-construction it owns the cells whose lowest corner is one of its voxels. Summed
    over the chunks this is :func:`monai_topo.topology.euler_characteristic` of the whole mask.
    """
    sizes = [s - 2 for s in ext.shape]
    chi = 0
    for extent in itertools.product((0, 1), repeat=ext.ndim):
        cells = ext
        for axis, extends in enumerate(extent):
            n = sizes[axis]
            if construction == "T":
                if extends:  # cells inside one voxel row: the chunk's own voxels
                    cells = _take(cells, axis, 1, n + 1)
                else:  # planes j = s .. e-1 (and e on the far border): voxel j-1 or j is there
                    cells = combine_neighbours(_take(cells, axis, 0, n + 1 + int(last[axis])), axis, np.logical_or)
            elif extends:  # V: edges (i, i+1) for the chunk's voxels i: both ends there
                cells = combine_neighbours(_take(cells, axis, 1, n + 2), axis, np.logical_and)
            else:
                cells = _take(cells, axis, 1, n + 1)
        chi += (-1) ** sum(extent) * int(np.count_nonzero(cells))
    return chi


def _labels(mask: np.ndarray, connectivity: int, first: Sequence[bool], last: Sequence[bool], border: bool):
    """Label one phase of a chunk; returns ``(labels, _Labels)`` with the internal faces kept."""
    if mask.any():
        labels, n = label_components(mask, connectivity)
    else:
        labels, n = np.zeros(mask.shape, np.uint8), 0
    low = [None if first[a] else np.ascontiguousarray(np.take(labels, 0, axis=a)) for a in range(mask.ndim)]
    high = [None if last[a] else np.ascontiguousarray(np.take(labels, -1, axis=a)) for a in range(mask.ndim)]
    touching = None
    if border:
        faces = [
            np.take(labels, i, axis=a) for a in range(mask.ndim) for i, flag in ((0, first[a]), (-1, last[a])) if flag
        ]
        touching = np.unique(np.concatenate([np.unique(face) for face in faces])) if faces else np.zeros(0, np.int64)
        touching = touching[touching != 0]
    return labels, _Labels(int(n), low, high, touching)


def _summarise_volume(
    ext: np.ndarray,
    name: str,
    location: tuple[int, ...],
    grid: tuple[int, ...],
    connectivity: Connectivity,
    with_background: bool = True,
) -> tuple[_Summary, np.ndarray, np.ndarray]:
    ndim = ext.ndim
    construction = resolve_connectivity(connectivity, ndim)
    first = [loc == 0 for loc in location]
    last = [loc == g - 1 for loc, g in zip(location, grid)]
    inner = tuple(slice(1, -1) for _ in range(ndim))
    mask = _block_mask(ext[inner], name, location)
    ext_mask = np.asarray(ext) != 0
    chi = _local_euler(ext_mask, last, construction)
    del ext_mask
    fg_labels, fg = _labels(mask, foreground_connectivity(connectivity, ndim), first, last, border=False)
    bg = None
    if with_background:
        _, bg = _labels(~mask, background_connectivity(connectivity, ndim), first, last, border=True)
    return _Summary(int(np.count_nonzero(mask)), chi, fg, bg), mask, fg_labels


def _summarise_chunk(block: np.ndarray, name: str, location: tuple[int, ...], grid: tuple[int, ...], connectivity):
    ext = _full_halo(block, location, grid, resolve_connectivity(connectivity, block.ndim))
    return _summarise_volume(ext, name, location, grid, connectivity)[0]


def _summarise_pair(
    ext_pred: np.ndarray,
    ext_target: np.ndarray,
    names: tuple[str, str],
    location: tuple[int, ...],
    grid: tuple[int, ...],
    connectivity: Connectivity,
    instance_labels: bool,
) -> _PairSummary:
    construction = resolve_connectivity(connectivity, ext_pred.ndim)
    ext_pred = _full_halo(ext_pred, location, grid, construction)
    ext_target = _full_halo(ext_target, location, grid, construction)
    pred, _, pred_labels = _summarise_volume(ext_pred, names[0], location, grid, connectivity)
    inner = tuple(slice(1, -1) for _ in range(ext_target.ndim))
    if instance_labels:
        ids = np.asarray(ext_target[inner])
        _block_mask(ids, names[1], location, binary=False)  # checks: integer, non-negative, finite
        ext_binary = np.asarray(ext_target) != 0
        target, _, _ = _summarise_volume(ext_binary, names[1], location, grid, connectivity)
        target_ids = ids.astype(np.int64)
    else:
        target, _, target_ids = _summarise_volume(ext_target, names[1], location, grid, connectivity)
    both = (pred_labels > 0) & (target_ids > 0)
    pairs = np.stack([pred_labels[both].astype(np.int64), target_ids[both].astype(np.int64)], axis=1)
    top = max(int(pred_labels.max(initial=0)), int(target_ids.max(initial=0)))
    return _PairSummary([pred, target], _unique_pairs(pairs, top), int(np.count_nonzero(both)))


class _ChunkProgress:
    """A tqdm bar that advances when one of the given dask keys finishes (local schedulers)."""

    def __init__(self, keys: set, desc: str) -> None:
        from dask.callbacks import Callback
        from tqdm import tqdm

        bar = tqdm(total=len(keys), desc=desc, unit="chunk")

        def posttask(key, result, dsk, state, worker_id):
            if key in keys:
                bar.update(1)

        self.bar = bar
        self.callback = Callback(posttask=posttask)

    def __enter__(self) -> None:
        self.callback.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.callback.__exit__(*exc)
        self.bar.close()


def compute_tasks(tasks: list, progress: bool = False, desc: str = "chunks", optimize_graph: bool = True) -> list:
    """Compute dask tasks (e.g. one per chunk) with the active scheduler (a distributed client if any), in one go.
    ``progress`` shows a bar over the tasks. ``optimize_graph=False`` keeps dask from fusing the reads of the chunks
    into each task's slicing: a chunk that several tasks slice is then read once, not once per task.

    Example:
        >>> import dask
        >>> compute_tasks([dask.delayed(sum)([1, 2]), dask.delayed(max)(3, 4)])
        [3, 4]
    """
    import dask

    client = None
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        from distributed import as_completed
        from tqdm import tqdm

        futures = client.compute(tasks, optimize_graph=optimize_graph)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list = [None] * len(futures)
        with tqdm(total=len(futures), desc=desc, unit="chunk", disable=not progress) as bar:
            for future in as_completed(futures):
                results[index[future.key]] = future.result()  # re-raises the task's error here
                bar.update(1)
        return results
    if not progress:
        return list(dask.compute(*tasks, optimize_graph=optimize_graph))
    with _ChunkProgress({t.key for t in tasks}, desc):
        return list(dask.compute(*tasks, optimize_graph=optimize_graph))


def _overlapped_blocks(array: Any, construction: str) -> np.ndarray:
    """Delayed chunks with a one-voxel halo on the side the Euler count needs: low (T) or high (V)."""
    import dask.array as da

    side = (1, 0) if construction == "T" else (0, 1)
    ext = da.overlap.overlap(array, depth={axis: side for axis in range(array.ndim)}, boundary="none")
    return ext.to_delayed()


def _full_halo(block: np.ndarray, location: tuple[int, ...], grid: tuple[int, ...], construction: str) -> np.ndarray:
    """The chunk with a halo on both sides: the neighbours' voxels where read, zeros elsewhere."""
    if construction == "T":
        pad = [(int(loc == 0), 1) for loc in location]
    else:
        pad = [(1, int(loc == g - 1)) for loc, g in zip(location, grid)]
    return np.pad(np.asarray(block), pad)


def _grid(array: Any) -> tuple[int, ...]:
    return tuple(len(c) for c in array.chunks)


class _Classes:
    """Global component ids ``offset[chunk] + local`` and their classes after merging across chunk faces."""

    def __init__(self, total: int, edges: np.ndarray) -> None:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        self.total = total
        if edges.size == 0:
            self.nodes = np.zeros(0, np.int64)
            self.component = np.zeros(0, np.int64)
            self.count = total
            return
        self.nodes = np.unique(edges)
        index = np.searchsorted(self.nodes, edges)
        m = self.nodes.size
        graph = coo_matrix((np.ones(len(index), np.int8), (index[:, 0], index[:, 1])), shape=(m, m))
        n_merged, self.component = connected_components(graph, directed=False)
        self.count = total - m + int(n_merged)

    def root(self, ids: np.ndarray) -> np.ndarray:
        """A class id for each global id (ids outside every merge are their own class)."""
        ids = np.asarray(ids, np.int64)
        out = ids.copy()
        if self.nodes.size:
            pos = np.minimum(np.searchsorted(self.nodes, ids), self.nodes.size - 1)
            hit = self.nodes[pos] == ids
            out[hit] = self.total + 1 + self.component[pos[hit]]
        return out


def _unique_pairs(pairs: np.ndarray, total: int) -> np.ndarray:
    """Distinct rows of an ``(k, 2)`` array of ids in ``0..total`` (one integer key per row when it fits)."""
    if len(pairs) == 0:
        return np.zeros((0, 2), np.int64)
    pairs = pairs.astype(np.int64, copy=False)
    base = total + 1
    if base < 2**31:
        keys = np.unique(pairs[:, 0] * base + pairs[:, 1])
        return np.stack([keys // base, keys % base], axis=1)
    return np.unique(pairs, axis=0)


def _face_edges(lo: np.ndarray, hi: np.ndarray, full: bool, total: int) -> np.ndarray:
    """Pairs ``(lo id, hi id)`` of voxels adjacent across a boundary plane (face neighbours, or all 3^(d-1))."""
    shifts = itertools.product((-1, 0, 1), repeat=lo.ndim) if full else [(0,) * lo.ndim]
    found = []
    for shift in shifts:
        src = tuple(slice(max(0, -d), n - max(0, d)) for d, n in zip(shift, lo.shape))
        dst = tuple(slice(max(0, d), n - max(0, -d)) for d, n in zip(shift, lo.shape))
        a, b = lo[src], hi[dst]
        keep = (a > 0) & (b > 0)
        if keep.any():
            found.append(_unique_pairs(np.stack([a[keep], b[keep]], axis=1), total))
    if not found:
        return np.zeros((0, 2), np.int64)
    return _unique_pairs(np.concatenate(found), total)


def _merge(
    parts: dict[tuple[int, ...], _Labels], chunks: tuple[tuple[int, ...], ...], connectivity: int
) -> tuple[_Classes, dict[tuple[int, ...], int]]:
    """Merge the per-chunk labels of one phase across every internal chunk boundary plane."""
    ndim = len(chunks)
    locations = sorted(parts)
    offsets, total = {}, 0
    for loc in locations:
        offsets[loc] = total
        total += parts[loc].n
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in chunks]
    shape = tuple(int(sum(c)) for c in chunks)
    edges = []
    for axis in range(ndim):
        others = [a for a in range(ndim) if a != axis]
        plane_shape = tuple(shape[a] for a in others)
        for k in range(1, len(chunks[axis])):
            lo = np.zeros(plane_shape, np.int64)
            hi = np.zeros(plane_shape, np.int64)
            for loc in locations:
                if loc[axis] not in (k - 1, k):
                    continue
                face = parts[loc].high[axis] if loc[axis] == k - 1 else parts[loc].low[axis]
                region = tuple(slice(starts[a][loc[a]], starts[a][loc[a] + 1]) for a in others)
                target = lo if loc[axis] == k - 1 else hi
                target[region] = np.where(face > 0, face.astype(np.int64) + offsets[loc], 0)
            edges.append(_face_edges(lo, hi, connectivity in _FULL, total))
    all_edges = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    return _Classes(total, all_edges), offsets


def _combine(
    summaries: dict[tuple[int, ...], _Summary], chunks, connectivity: Connectivity
) -> tuple[ChunkedTopology, _Classes, dict[tuple[int, ...], int]]:
    ndim = len(chunks)
    fg_classes, fg_offsets = _merge(
        {k: s.fg for k, s in summaries.items()}, chunks, foreground_connectivity(connectivity, ndim)
    )
    bg_parts = {k: s.bg for k, s in summaries.items()}
    bg_classes, bg_offsets = _merge(bg_parts, chunks, background_connectivity(connectivity, ndim))
    touching = [part.border.astype(np.int64) + bg_offsets[loc] for loc, part in bg_parts.items() if part.border.size]
    n_touching = np.unique(bg_classes.root(np.concatenate(touching))).size if touching else 0
    b0 = fg_classes.count
    enclosed = bg_classes.count - n_touching
    chi = sum(s.chi for s in summaries.values())
    betti = [b0, enclosed] if ndim == 2 else [b0, b0 + enclosed - chi, enclosed]
    voxels = sum(s.voxels for s in summaries.values())
    return ChunkedTopology(np.array(betti, np.int64), int(chi), int(voxels)), fg_classes, fg_offsets


def chunked_topology(
    mask: Any, connectivity: Connectivity = None, progress: bool = False, name: str = "mask"
) -> ChunkedTopology:
    """Betti numbers, Euler characteristic and voxel count of a chunked binary mask, chunk by chunk.

    Args:
        mask: a 2D or 3D ``dask.array.Array`` of 0/1 (or bool) values, any chunking (chunks of 1 voxel up).
        connectivity: foreground connectivity: ``None``/8/26 (T-construction, default) or 4/6.
        progress: show a progress bar over the chunks.
        name: what error messages call the array (e.g. its file name).

    Returns:
        a :class:`ChunkedTopology`, equal to :func:`monai_topo.topology.betti_numbers` /
        :func:`~monai_topo.topology.euler_characteristic` of ``mask.compute()``.

    Raises:
        TypeError: for a non-dask or non-numeric array.
        ValueError: for a bad connectivity, wrong dimensions, or a chunk with values other than 0 and 1
            (the message names the chunk).

    Example:
        >>> import dask.array as da
        >>> shell = np.ones((5, 5, 5), bool); shell[2, 2, 2] = False
        >>> chunked_topology(da.from_array(shell, chunks=2)).betti.tolist()
        [1, 0, 1]
    """
    import dask

    _check_dask_mask(mask, name)
    resolve_connectivity(connectivity, mask.ndim)
    grid = _grid(mask)
    blocks = _overlapped_blocks(mask, resolve_connectivity(connectivity, mask.ndim))
    locations = list(np.ndindex(*grid))
    task = dask.delayed(_summarise_chunk, pure=True)
    tasks = [task(blocks[loc], name, loc, grid, connectivity) for loc in locations]
    results = compute_tasks(tasks, progress, f"topology of {name}")
    topology, _, _ = _combine(dict(zip(locations, results)), mask.chunks, connectivity)
    return topology


def chunked_betti_numbers(mask: Any, connectivity: Connectivity = None, progress: bool = False) -> np.ndarray:
    """Betti numbers of a chunked binary mask: ``(b0, b1)`` in 2D, ``(b0, b1, b2)`` in 3D (see :func:`chunked_topology`).

    Example:
        >>> import dask.array as da
        >>> ring = np.ones((3, 3), bool); ring[1, 1] = False
        >>> chunked_betti_numbers(da.from_array(ring, chunks=1)).tolist()
        [1, 1]
    """
    return chunked_topology(mask, connectivity, progress).betti


def chunked_euler_characteristic(mask: Any, connectivity: Connectivity = None, progress: bool = False) -> int:
    """Euler characteristic of a chunked binary mask (see :func:`chunked_topology`).

    Example:
        >>> import dask.array as da
        >>> chunked_euler_characteristic(da.ones((4, 4), chunks=3))
        1
    """
    return chunked_topology(mask, connectivity, progress).euler


def chunked_component_count(mask: Any, connectivity: Connectivity = None, progress: bool = False) -> int:
    """Number of foreground components of a chunked binary mask (``b0``, see :func:`chunked_topology`).

    Example:
        >>> import dask.array as da
        >>> chunked_component_count(da.from_array(np.eye(6, dtype=bool), chunks=2), connectivity=4)
        6
    """
    return chunked_topology(mask, connectivity, progress).components


def _check_pair(pred: Any, target: Any, names: tuple[str, str]) -> None:
    _check_dask_mask(pred, names[0])
    _check_dask_mask(target, names[1])
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: {names[0]} {pred.shape} vs {names[1]} {target.shape}.")
    if pred.chunks != target.chunks:
        raise ValueError(
            f"chunk grids differ: {names[0]} has chunks {pred.chunksize} ({_grid(pred)} chunks), {names[1]} "
            f"{target.chunksize} ({_grid(target)} chunks); rechunk one like the other, e.g. "
            "target.rechunk(pred.chunks)."
        )


def chunked_pair_topology(
    pred: Any,
    target: Any,
    connectivity: Connectivity = None,
    instance_labels: bool = False,
    progress: bool = False,
    names: tuple[str, str] = ("prediction", "target"),
) -> ChunkedPairTopology:
    """Both masks' topology and the split / merge counts between them, in one pass over the chunks.

    Args:
        pred: binary 2D/3D ``dask.array.Array``.
        target: binary ``dask.array.Array`` with the same shape and chunks; with ``instance_labels=True`` a
            map of non-negative integer instance ids (0 = background), as in
            :func:`monai_topo.metrics.split_merge_counts`.
        connectivity: foreground connectivity (``None``/8/26 or 4/6).
        instance_labels: whether ``target`` holds instance ids.
        progress: show a progress bar over the chunks.
        names: what error messages call the two arrays (e.g. their file names).

    Raises:
        TypeError / ValueError: as :func:`chunked_topology`, and ``ValueError`` for different shapes or chunks.

    Example:
        >>> import dask.array as da
        >>> tube = np.zeros((5, 9), bool); tube[2, 1:8] = True
        >>> broken = tube.copy(); broken[2, 4] = False
        >>> pair = chunked_pair_topology(da.from_array(broken, chunks=3), da.from_array(tube, chunks=3))
        >>> pair.pred.betti.tolist(), pair.splits, pair.merges
        ([2, 0], 1, 0)
    """
    import dask

    _check_pair(pred, target, names)
    resolve_connectivity(connectivity, pred.ndim)
    grid = _grid(pred)
    construction = resolve_connectivity(connectivity, pred.ndim)
    pred_blocks, target_blocks = _overlapped_blocks(pred, construction), _overlapped_blocks(target, construction)
    locations = list(np.ndindex(*grid))
    task = dask.delayed(_summarise_pair, pure=True)
    tasks = [
        task(pred_blocks[loc], target_blocks[loc], names, loc, grid, connectivity, instance_labels) for loc in locations
    ]
    results: list[_PairSummary] = compute_tasks(tasks, progress, f"evaluate {names[0]}")
    pred_top, pred_classes, pred_offsets = _combine(
        {loc: r.volumes[0] for loc, r in zip(locations, results)}, pred.chunks, connectivity
    )
    target_top, target_classes, target_offsets = _combine(
        {loc: r.volumes[1] for loc, r in zip(locations, results)}, pred.chunks, connectivity
    )
    edges = []
    for loc, r in zip(locations, results):
        if r.overlap is None or not len(r.overlap):
            continue
        p = pred_classes.root(r.overlap[:, 0] + pred_offsets[loc])
        t = r.overlap[:, 1] if instance_labels else target_classes.root(r.overlap[:, 1] + target_offsets[loc])
        edges.append(np.stack([p, t], axis=1))
    splits = merges = 0
    if edges:
        pairs = np.concatenate(edges)
        pairs = _unique_pairs(pairs, int(pairs.max()))
        splits = len(pairs) - np.unique(pairs[:, 1]).size
        merges = len(pairs) - np.unique(pairs[:, 0]).size
    intersection = sum(r.intersection for r in results)
    return ChunkedPairTopology(pred_top, target_top, int(splits), int(merges), int(intersection))


def chunked_split_merge_counts(
    pred: Any, target: Any, connectivity: Connectivity = None, instance_labels: bool = False, progress: bool = False
) -> tuple[int, int]:
    """``(splits, merges)`` of a chunked prediction against its target (see :func:`chunked_pair_topology`).

    Example:
        >>> import dask.array as da
        >>> target = np.zeros((5, 9), np.int64); target[2, 1:4] = 1; target[2, 5:8] = 2
        >>> bridged = target > 0; bridged[2, 4] = True
        >>> chunked_split_merge_counts(da.from_array(bridged, chunks=2), da.from_array(target, chunks=2),
        ...                            instance_labels=True)
        (0, 1)
    """
    pair = chunked_pair_topology(pred, target, connectivity, instance_labels, progress)
    return pair.splits, pair.merges
