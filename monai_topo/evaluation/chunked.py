"""The chunked evaluation: Zarr / OME-Zarr / large NIfTI volumes, read lazily and measured chunk by chunk.

The evaluation switches to it for Zarr stores, for a given chunk size or level, or for volumes of more than
:data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels (:func:`uses_chunked_path`). Volumes are read lazily
(:func:`monai_topo.io.open_volume`) and measured exactly, in two passes whatever the number of labels: the first
reads every chunk once and measures each label on its box (:mod:`monai_topo.evaluation.labels`) where all its
pieces lie inside single chunks; the second measures the labels that cross a chunk boundary on their whole box, in
memory after one more read of the chunks they touch, or chunk by chunk (:mod:`monai_topo.topology.chunked`) when
the box holds more than :data:`BOX_VOXELS_IN_MEMORY` voxels. The scheduler is dask's default (threads) or a
``dask.distributed`` client (:func:`scheduler`).

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

from monai_topo.evaluation.case import case_row, check_same_grid
from monai_topo.evaluation.labels import MaskMeasures, PairMeasures, measure_mask, measure_pair
from monai_topo.io import open_volume
from monai_topo.io.cases import NIFTI_SUFFIXES
from monai_topo.io.volumes import wants_chunked
from monai_topo.topology import chunked_pair_topology, chunked_topology
from monai_topo.topology.chunked import compute_tasks
from monai_topo.topology.connectivity import resolve_connectivity
from monai_topo.topology.objects import Box, box_size, grow_box, label_boxes, union_box

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


#: labels that cross a chunk boundary and whose box (with a one-voxel margin) holds at most this many voxels are
#: measured in memory, after one more read of the chunks they touch (all such labels in one pass); larger ones chunk
#: by chunk (:func:`monai_topo.topology.chunked_pair_topology` on their box)
BOX_VOXELS_IN_MEMORY = 2**24

_Measures = PairMeasures | MaskMeasures


def _chunk_labels(
    blocks: Sequence[np.ndarray],
    location: tuple[int, ...],
    grid: tuple[int, ...],
    offset: tuple[int, ...],
    connectivity: int | None,
) -> dict[int, tuple[Box, bool, _Measures]]:
    """Pass 1, one chunk of one or two volumes: per label value in it, its box in the volume, whether it touches a
    face the chunk shares with another, and its measures: all of them for a label inside the chunk (its pieces in
    other chunks are at least two voxels away, so the numbers add up), the voxel counts for one that crosses."""
    blocks = [np.asarray(b) for b in blocks]
    shape = blocks[0].shape
    boxes = [label_boxes(b) for b in blocks]
    found: dict[int, tuple[Box, bool, _Measures]] = {}
    for value in sorted(set().union(*boxes)):
        box = None
        for side in boxes:
            box = union_box(box, side.get(value))
        crossing = any(
            (s.start == 0 and location[a] > 0) or (s.stop == shape[a] and location[a] < grid[a] - 1)
            for a, s in enumerate(box)
        )
        region = grow_box(box, shape)
        masks = [b[region] == value for b in blocks]
        if len(masks) == 1:
            measures: _Measures = (
                MaskMeasures(int(np.count_nonzero(masks[0])), np.zeros(len(shape), np.int64))
                if crossing
                else measure_mask(masks[0], connectivity)
            )
        elif crossing:
            zeros = np.zeros(len(shape), np.int64)
            pred, target = masks
            measures = PairMeasures(
                MaskMeasures(int(np.count_nonzero(pred)), zeros),
                MaskMeasures(int(np.count_nonzero(target)), zeros.copy()),
                int(np.count_nonzero(pred & target)),
                0,
                0,
            )
        else:
            measures = measure_pair(masks[0], masks[1], connectivity, cldice=False)
        found[value] = (tuple(slice(s.start + o, s.stop + o) for s, o in zip(box, offset)), crossing, measures)
    return found


def _measure_region(
    pieces: Sequence[list], crop: Box, value: int, connectivity: int | None
) -> _Measures:
    """Pass 2: a label's whole box, measured in memory; ``pieces`` holds per volume the chunks it touches (nested
    lists, one level per axis) and ``crop`` the box within them."""
    masks = [np.block(p)[crop] == value for p in pieces]
    if len(masks) == 1:
        return measure_mask(masks[0], connectivity)
    return measure_pair(masks[0], masks[1], connectivity, cldice=False)


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

    Pass 1 reads every chunk once: each label's box, voxel counts and, for a label whose pieces all lie inside
    one chunk each, every measure (:func:`_chunk_labels`). Pass 2 measures the labels that cross a chunk boundary
    on their box: in memory, all of them in one compute that reads each chunk they touch once, or chunk by chunk
    for a box of more than :data:`BOX_VOXELS_IN_MEMORY` voxels.
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
    boxes: dict[int, Box] = {}
    crossing: set[int] = set()
    for found in compute_tasks(tasks, progress, f"labels of {names[0]}"):
        for value, (box, crosses, measures) in found.items():
            totals[value] = measures if value not in totals else totals[value] + measures
            boxes[value] = union_box(boxes.get(value), box)  # type: ignore[assignment]
            if crosses:
                crossing.add(value)
    shape = tuple(int(n) for n in volumes[0].shape)
    regions = {value: grow_box(boxes[value], shape) for value in sorted(crossing)}
    small = [value for value, region in regions.items() if box_size(region) <= BOX_VOXELS_IN_MEMORY]
    task = dask.delayed(_measure_region, pure=True)
    tasks = []
    for value in small:
        region = regions[value]
        first = [int(np.searchsorted(starts[a], s.start, "right")) - 1 for a, s in enumerate(region)]
        last = [int(np.searchsorted(starts[a], s.stop, "left")) for a, s in enumerate(region)]
        origin = [int(starts[a][i]) for a, i in enumerate(first)]
        crop = tuple(slice(s.start - o, s.stop - o) for s, o in zip(region, origin))
        pieces = [_nested(b, tuple(slice(i, j) for i, j in zip(first, last))) for b in blocks]
        tasks.append(task(pieces, crop, value, connectivity))
    # one compute: a chunk that several labels touch is read once for all of them
    measured = compute_tasks(tasks, progress, f"labels across chunks of {names[0]}", optimize_graph=False)
    totals.update(zip(small, measured))
    for value in sorted(set(regions) - set(small)):
        totals[value] = _measure_chunked(volumes, regions[value], value, connectivity, progress, names)
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
