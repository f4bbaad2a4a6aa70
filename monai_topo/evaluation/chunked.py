"""The chunked evaluation: Zarr / OME-Zarr / large NIfTI volumes, read lazily and measured chunk by chunk.

The evaluation switches to it for Zarr stores, for a given chunk size or level, or for volumes of more than
:data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels (:func:`uses_chunked_path`). Volumes are read lazily
(:func:`monai_topo.io.open_volume`) and measured exactly, in two passes whatever the number of labels: the first
reads every chunk once and measures, piece by piece, every label's parts there that touch no face shared with
another chunk (:func:`monai_topo.evaluation.labels.measure_pieces`); the second measures the parts on chunk faces,
grouped per label, on each group's box, in memory after one more read of the chunks they touch, or the whole label
chunk by chunk (:mod:`monai_topo.topology.chunked`) when a group's box holds more than
:data:`BOX_VOXELS_IN_MEMORY` voxels. The scheduler is dask's default (threads) or a ``dask.distributed`` client
(:func:`scheduler`).

Example::

    from monai_topo.evaluation import betti_table_chunked, evaluate_case_chunked

    shape, rows = betti_table_chunked("brain.ome.zarr", selected=[1])
    rows = evaluate_case_chunked("pred.zarr", "label.zarr", chunks=256)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from monai_topo.evaluation.case import case_row, check_same_grid
from monai_topo.evaluation.labels import MaskMeasures, PairMeasures, measure_pieces
from monai_topo.io import open_volume
from monai_topo.io.cases import NIFTI_SUFFIXES
from monai_topo.io.volumes import wants_chunked
from monai_topo.topology import chunked_pair_topology, chunked_topology
from monai_topo.topology.chunked import compute_tasks
from monai_topo.topology.connectivity import resolve_connectivity
from monai_topo.topology.objects import Box, box_size, grow_box, label_pieces, union_box

__all__ = [
    "BOX_VOXELS_IN_MEMORY",
    "DEFAULT_SCHEDULER_TIMEOUT",
    "SchedulerError",
    "betti_table_chunked",
    "check_scheduler",
    "evaluate_case_chunked",
    "scheduler",
    "uses_chunked_path",
]


def uses_chunked_path(*paths: str | Path, chunks: int | tuple[int, ...] | None = None, level: int = 0) -> bool:
    """Whether ``paths`` are evaluated chunk by chunk: Zarr, a chunk size or an OME-Zarr level given, or a large
    volume.

    Example:
        >>> uses_chunked_path("a.nii.gz", "b.nii.gz", chunks=64), uses_chunked_path("a.ome.zarr")
        (True, True)
    """
    if level:
        return True
    return any(wants_chunked(p, chunks) for p in paths)


#: seconds a ``dask.distributed`` scheduler may take to answer (and to have a worker) before :func:`scheduler` gives up
DEFAULT_SCHEDULER_TIMEOUT = 30.0


class SchedulerError(RuntimeError):
    """The ``dask.distributed`` scheduler of :func:`scheduler` cannot be used (the message names the address)."""


def _identity(address: str, timeout: float) -> object:
    """The scheduler's answer to ``identity``, on an event loop of its own, within ``timeout`` seconds."""
    import asyncio

    from distributed.comm import connect

    async def ask() -> object:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome: list = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(asyncio.wait_for(ask(), timeout)))
        except asyncio.TimeoutError:  # (not yet the builtin TimeoutError on Python 3.10)
            outcome.append(TimeoutError())
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            outcome.append(e)

    thread = threading.Thread(target=run, name="monai-topo-scheduler-check", daemon=True)  # (a notebook's loop)
    thread.start()
    thread.join(timeout + 5.0)
    if not outcome:
        return TimeoutError()
    return outcome[0]


def check_scheduler(address: str, timeout: float = DEFAULT_SCHEDULER_TIMEOUT) -> int:
    """Check that a ``dask.distributed`` scheduler answers at ``address`` within ``timeout`` seconds.

    An address that accepts connections and never answers used to hang the evaluation for good, a refused port
    to end in a raw ``OSError`` after 30 s, a service of another kind in "Unable to allocate 3.07 EiB" (its
    answer read as a message length).

    Returns:
        the number of workers the scheduler has now.

    Raises:
        SchedulerError: naming the address and what to do, for an address that does not parse, nothing
            listening there, no answer within ``timeout``, or an answer that is not a dask scheduler's.
    """
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host_port = parse_host_port(location, 8786) if scheme in ("tcp", "tls") else None
    except (ValueError, TypeError) as e:
        raise SchedulerError(f"--scheduler {address!r} is not an address (e.g. tcp://host:8786): {e}") from None
    if host_port is not None:  # a plain connection first: a refused port is told at once
        try:
            socket.create_connection(host_port, timeout=timeout).close()
        except ConnectionRefusedError:
            raise SchedulerError(
                f"nothing listens at {address} (connection refused): start the scheduler there "
                "(dask scheduler) or check the address"
            ) from None
        except TimeoutError:
            raise SchedulerError(
                f"{address} did not answer within {timeout:g} s: check the address and the network, or give "
                "it longer with --scheduler-timeout"
            ) from None
        except OSError as e:
            raise SchedulerError(f"cannot reach {address} ({e.strerror or e})") from None
    reply = _identity(address, timeout)
    if isinstance(reply, TimeoutError):
        raise SchedulerError(
            f"{address} accepted the connection but did not answer within {timeout:g} s as a dask.distributed "
            "scheduler: check the address (the scheduler's port is 8786 by default), or give it longer with "
            "--scheduler-timeout"
        )
    if isinstance(reply, BaseException) or not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        what = type(reply).__name__ if isinstance(reply, BaseException) else "an answer of another kind"
        raise SchedulerError(
            f"{address} is not a dask.distributed scheduler (it answered in another protocol: {what}); give the "
            "scheduler's address, e.g. tcp://host:8786"
        )
    return int(reply.get("n_workers", 0) or 0)


@contextlib.contextmanager
def scheduler(address: str | None, timeout: float = DEFAULT_SCHEDULER_TIMEOUT) -> Iterator[None]:
    """Connect to the ``dask.distributed`` scheduler at ``address`` for the duration of the block (``None``: the
    default threads, nothing to do).

    The scheduler must answer within ``timeout`` seconds and have a worker by then (:func:`check_scheduler`).

    Raises:
        SchedulerError: naming the address, when it cannot be used (before the block runs).
    """
    if not address:
        yield
        return
    import asyncio

    from distributed import Client

    workers = check_scheduler(address, timeout)
    try:
        client = Client(address, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - it answered the check a moment ago: gone, or refusing clients
        raise SchedulerError(f"cannot connect a client to the scheduler at {address} ({type(e).__name__}: {e})") from e
    with client:
        if not workers:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (TimeoutError, asyncio.TimeoutError):
                raise SchedulerError(
                    f"the scheduler at {address} has no workers (none joined within {timeout:g} s): start one "
                    f"(dask worker {address})"
                ) from None
        yield


#: groups of a label's parts on chunk faces whose box (with a one-voxel margin) holds at most this many voxels are
#: measured in memory, after one more read of the chunks they touch (all groups in one pass); a label with a larger
#: group is measured whole, chunk by chunk (:func:`monai_topo.topology.chunked_pair_topology` on its box)
BOX_VOXELS_IN_MEMORY = 2**24

_Measures = PairMeasures | MaskMeasures


def _faces(region: Box, starts: Sequence[np.ndarray]) -> np.ndarray:
    """The voxels of ``region`` (volume coordinates) on a face two chunks share: a chunk's first or last layer,
    where another chunk lies beyond (a boolean array of the region's shape)."""
    inner = [np.asarray(s[1:-1]) for s in starts]  # chunk starts other than the volume's
    shape = tuple(r.stop - r.start for r in region)
    out = np.zeros(shape, bool)
    for axis, (r, cut) in enumerate(zip(region, inner)):
        coords = np.arange(r.start, r.stop)
        layer = np.isin(coords, cut) | np.isin(coords + 1, cut)
        view = [None] * len(shape)
        view[axis] = slice(None)
        out |= layer[tuple(view)]
    return out


def _pair_blocks(blocks: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A prediction and its target, or one volume and an empty one (its measures are then the prediction's)."""
    first = np.asarray(blocks[0])
    return first, (np.asarray(blocks[1]) if len(blocks) > 1 else np.zeros_like(first))


def _as_measures(measures: PairMeasures, pair: bool) -> _Measures:
    return measures if pair else measures.pred


def _chunk_labels(
    blocks: Sequence[np.ndarray],
    location: tuple[int, ...],
    grid: tuple[int, ...],
    offset: tuple[int, ...],
    connectivity: int | None,
) -> dict[int, tuple[_Measures | None, list[Box], Box]]:
    """Pass 1, one chunk of one or two volumes: every label's pieces there
    (:func:`monai_topo.topology.objects.label_pieces`). Per label value: the measures of its pieces that do not
    touch a face the chunk shares with another (whole pieces: the rest of the label is at least two voxels away, so
    the numbers add up; ``None`` if none), the boxes of the pieces that do (measured in pass 2), and the label's box
    in the chunk (boxes in volume coordinates)."""
    pred, target = _pair_blocks(blocks)
    shape = pred.shape
    pieces = label_pieces(pred, target)
    inside, crossing = [], []
    for i, box in enumerate(pieces.boxes):
        crosses = any(
            (s.start == 0 and location[a] > 0) or (s.stop == shape[a] and location[a] < grid[a] - 1)
            for a, s in enumerate(box)
        )
        (crossing if crosses else inside).append(i)
    measured = measure_pieces(pieces, inside, shape, connectivity, cldice=False)
    found: dict[int, tuple[_Measures | None, list[Box], Box]] = {}
    for i, box in enumerate(pieces.boxes):
        value = int(pieces.values[i])
        box = tuple(slice(s.start + o, s.stop + o) for s, o in zip(box, offset))
        if value not in found:
            m = measured.get(value)
            found[value] = (None if m is None else _as_measures(m[0], len(blocks) > 1), [], box)
        measures, boxes, extent = found[value]
        found[value] = (measures, boxes, union_box(extent, box))  # type: ignore[assignment]
    for i in crossing:
        found[int(pieces.values[i])][1].append(
            tuple(slice(s.start + o, s.stop + o) for s, o in zip(pieces.boxes[i], offset))
        )
    return found


def _group_boxes(boxes: Sequence[Box]) -> list[Box]:
    """Boxes of pieces grouped until the groups' boxes, one voxel larger, do not meet: the union box of each group
    (pieces of one label across chunk faces: each whole piece lies inside one group's box, and no group's box
    reaches into another's)."""
    lo = np.array([[s.start for s in b] for b in boxes], np.int64)
    hi = np.array([[s.stop for s in b] for b in boxes], np.int64)
    while len(lo) > 1:
        # boxes one voxel larger meet: lo_a < hi_b + 2 and lo_b < hi_a + 2 on every axis (rows in blocks: bounded
        # memory however many pieces cross)
        rows, cols = [], []
        step = max(1, 2**22 // len(lo))
        for first in range(0, len(lo), step):
            a, b = lo[first : first + step, None, :], hi[first : first + step, None, :]
            meets = ((a < hi[None, :, :] + 2) & (lo[None, :, :] < b + 2)).all(axis=2)
            r, c = np.nonzero(meets)
            rows.append(r + first)
            cols.append(c)
        edges = (np.concatenate(rows), np.concatenate(cols))
        graph = coo_matrix((np.ones(edges[0].size, np.int8), edges), shape=(len(lo), len(lo)))
        n, group = connected_components(graph, directed=False)
        if n == len(lo):
            break
        new_lo = np.full((n, lo.shape[1]), np.iinfo(np.int64).max, np.int64)
        new_hi = np.zeros((n, lo.shape[1]), np.int64)
        np.minimum.at(new_lo, group, lo)
        np.maximum.at(new_hi, group, hi)
        lo, hi = new_lo, new_hi
    return [tuple(slice(int(a), int(b)) for a, b in zip(x, y)) for x, y in zip(lo.tolist(), hi.tolist())]


def _measure_regions(
    pieces: Sequence[list], items: Sequence[tuple[Box, Box, int]], starts: Sequence[np.ndarray], connectivity: int | None
) -> list[_Measures]:
    """Pass 2: groups of labels' pieces across chunk faces that lie in the same chunks, measured in memory.
    ``pieces`` holds per volume those chunks (nested lists, one level per axis); each item is a group's ``crop``
    within them, its ``region`` in volume coordinates and its label. A label's pieces in a region that touch no
    shared face were measured in pass 1."""
    volumes = [np.block(p) for p in pieces]
    out = []
    for crop, region, value in items:
        pred, target = _pair_blocks([v[crop] == value for v in volumes])
        found = label_pieces(pred, target)
        face = _faces(region, starts)
        across = np.union1d(
            found.pred_piece[found.pred_components[face]], found.target_piece[found.target_components[face]]
        )
        measured = measure_pieces(found, across[across >= 0].tolist(), pred.shape, connectivity, cldice=False)
        out.append(_as_measures(measured[1][0], len(volumes) > 1))  # (the group holds pieces on a face)
    return out


def _nested(blocks: np.ndarray, window: Box) -> list:
    """The delayed chunks of ``window`` (chunk indices) as nested lists, one level per axis (for ``np.block``)."""
    return np.asarray(blocks[window], dtype=object).tolist()


def _measure_chunked(volumes: Sequence[Any], region: Box, value: int, connectivity, progress, names) -> _Measures:
    """Pass 2 for a label too large for memory: chunk by chunk on its box."""
    masks = [v[region] == value for v in volumes]
    if len(masks) == 1:
        top = chunked_topology(masks[0], connectivity, progress, name=f"{names[0]} label {value}")
        return MaskMeasures(top.voxels, top.betti)
    pair = chunked_pair_topology(masks[0], masks[1], connectivity, progress=progress, names=tuple(names))
    return PairMeasures(
        MaskMeasures(pair.pred.voxels, pair.pred.betti),
        MaskMeasures(pair.target.voxels, pair.target.betti),
        pair.intersection,
        pair.splits,
        pair.merges,
    )


def _label_measures(
    volumes: Sequence[Any], connectivity: int | None, progress: bool, names: Sequence[str]
) -> dict[int, _Measures]:
    """The measures of every label of one volume or of a prediction and its target (same shape and chunks).

    Pass 1 reads every chunk once and measures every label's pieces there that touch no face shared with another
    chunk (:func:`_chunk_labels`). Pass 2 measures the pieces that do, grouped per label (:func:`_group_boxes`), on
    each group's box: in memory, one task per set of chunks the groups lie in, all in one compute that reads each
    chunk once; a label with a
    group box of more than :data:`BOX_VOXELS_IN_MEMORY` voxels is measured whole, chunk by chunk, instead.
    """
    import dask

    chunks = volumes[0].chunks
    grid = tuple(len(c) for c in chunks)
    starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in chunks]
    blocks = [v.to_delayed(optimize_graph=False) for v in volumes]  # the read of each chunk: one task, shared
    task = dask.delayed(_chunk_labels, pure=True)
    locations = list(np.ndindex(*grid))
    tasks = [
        task([b[loc] for b in blocks], loc, grid, tuple(int(starts[a][i]) for a, i in enumerate(loc)), connectivity)
        for loc in locations
    ]
    totals: dict[int, _Measures] = {}
    crossing: dict[int, list[Box]] = {}
    label_box: dict[int, Box] = {}
    for found in compute_tasks(tasks, progress, f"labels of {names[0]}"):
        for value, (measures, boxes, extent) in found.items():
            if measures is not None:
                totals[value] = measures if value not in totals else totals[value] + measures
            crossing.setdefault(value, []).extend(boxes)
            label_box[value] = union_box(label_box.get(value), extent)  # type: ignore[assignment]
    shape = tuple(int(n) for n in volumes[0].shape)
    groups = {value: [grow_box(g, shape) for g in _group_boxes(boxes)] for value, boxes in crossing.items() if boxes}
    whole = sorted(v for v, regions in groups.items() if any(box_size(r) > BOX_VOXELS_IN_MEMORY for r in regions))
    windows: dict[tuple, list[tuple[Box, Box, int]]] = {}  # the groups by the chunks they lie in
    for value, regions in groups.items():
        if value in whole:
            continue
        for region in regions:
            first = [int(np.searchsorted(starts[a], s.start, "right")) - 1 for a, s in enumerate(region)]
            last = [int(np.searchsorted(starts[a], s.stop, "left")) for a, s in enumerate(region)]
            origin = [int(starts[a][i]) for a, i in enumerate(first)]
            crop = tuple(slice(s.start - o, s.stop - o) for s, o in zip(region, origin))
            windows.setdefault((tuple(first), tuple(last)), []).append((crop, region, value))
    task = dask.delayed(_measure_regions, pure=True)
    tasks = []
    for (first, last), items in windows.items():
        pieces = [_nested(b, tuple(slice(i, j) for i, j in zip(first, last))) for b in blocks]
        tasks.append(task(pieces, items, starts, connectivity))
    # one compute: a chunk that several windows touch is read once for all of them
    measured = compute_tasks(tasks, progress, f"labels across chunks of {names[0]}", optimize_graph=False)
    for items, results in zip(windows.values(), measured):
        for (_, _, value), measures in zip(items, results):
            totals[value] = measures if value not in totals else totals[value] + measures
    for value in whole:  # the label whole, chunk by chunk on its box (pass 1's part of it is in there too)
        region = grow_box(label_box[value], shape)
        totals[value] = _measure_chunked(volumes, region, value, connectivity, progress, names)
    return totals


def betti_table_chunked(
    path: str | Path,
    selected: Sequence[int] | None = None,
    connectivity: int | None = None,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    progress: bool = True,
) -> tuple[tuple[int, ...], list[list[int]]]:
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` of a lazily read volume, as :func:`monai_topo.evaluation.betti_table`.

    Every label is measured on its box; the volume is read once, and once more where labels cross a chunk
    boundary (see :mod:`monai_topo.evaluation.labels`).

    Returns:
        ``(shape, rows)``.

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for a connectivity that does not fit the volume.
    """
    volume = open_volume(path, level, chunks)
    resolve_connectivity(connectivity, volume.ndim)
    found = _label_measures([volume], connectivity, progress, [str(path)])
    values = sorted(found) if selected is None else [int(k) for k in selected]
    rows = []
    for value in values:
        m: Any = found.get(value) or MaskMeasures(0, np.zeros(volume.ndim, np.int64))
        rows.append([value, m.voxels, *m.betti.tolist(), m.euler])
    return tuple(volume.shape), rows


def evaluate_case_chunked(
    pred_path: str | Path,
    label_path: str | Path,
    labels: Sequence[int] | None = None,
    connectivity: int | None = None,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One case's rows of the evaluation (the CSV columns except ``case``), chunk by chunk.

    Dice, Betti numbers and their error, splits and merges are exact; clDice is NaN (the skeleton of a volume
    is not computed chunk by chunk). Every label is measured on its box: both volumes are read once, and once more
    where labels cross a chunk boundary (see :mod:`monai_topo.evaluation.labels`).

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for different shapes or chunk grids (the message names both files and suggests ``--chunks``).
    """
    pred = open_volume(pred_path, level, chunks)
    target = open_volume(label_path, level, chunks)
    names = (Path(pred_path).name, Path(label_path).name)
    affines = (None, None)
    both_nifti = str(pred_path).endswith(NIFTI_SUFFIXES) and str(label_path).endswith(NIFTI_SUFFIXES)
    if both_nifti and pred.shape == target.shape:  # (a shape mismatch is reported first)
        import nibabel as nib

        affines = (nib.load(str(pred_path)).affine, nib.load(str(label_path)).affine)
    check_same_grid(names[0], names[1], pred.shape, target.shape, *affines)
    if pred.chunks != target.chunks:
        raise ValueError(
            f"chunk grids differ: prediction {names[0]} chunks {pred.chunksize} vs label {names[1]} chunks "
            f"{target.chunksize}; give --chunks to read both alike"
        )
    resolve_connectivity(connectivity, pred.ndim)
    found = _label_measures([pred, target], connectivity, progress, names)
    rows = []
    for label in sorted(found) if labels is None else [int(k) for k in labels]:
        m: Any = found.get(label) or PairMeasures.empty(pred.ndim, float("nan"))
        rows.append(case_row(label, pred.ndim, m.dice, m.pred.betti, m.target.betti, float("nan"), m.splits, m.merges))
    return rows
