"""The chunked evaluation: Zarr / OME-Zarr / large NIfTI volumes, read lazily and measured chunk by chunk.

The evaluation switches to it for Zarr stores, for a given chunk size or level, or for volumes of more than
:data:`monai_topo.io.volumes.LARGE_VOLUME_VOXELS` voxels (:func:`uses_chunked_path`). Volumes are read lazily
(:func:`monai_topo.io.open_volume`) and every number comes from :mod:`monai_topo.topology.chunked`, exact and chunk by
chunk; the scheduler is dask's default (threads) or a ``dask.distributed`` client (:func:`scheduler`).

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
from monai_topo.io import open_volume
from monai_topo.io.cases import NIFTI_SUFFIXES
from monai_topo.io.volumes import wants_chunked
from monai_topo.topology import chunked_pair_topology, chunked_topology
from monai_topo.topology.connectivity import resolve_connectivity

__all__ = [
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


def betti_table_chunked(
    path: str | Path,
    selected: Sequence[int] | None = None,
    connectivity: int | None = None,
    chunks: int | tuple[int, ...] | None = None,
    level: int = 0,
    progress: bool = True,
) -> tuple[tuple[int, ...], list[list[int]]]:
    """Rows ``[label, voxels, b0, b1, (b2,) chi]`` of a lazily read volume, as :func:`monai_topo.evaluation.betti_table`.

    Returns:
        ``(shape, rows)``.

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for a connectivity that does not fit the volume.
    """
    import dask.array as da

    volume = open_volume(path, level, chunks)
    resolve_connectivity(connectivity, volume.ndim)
    values = sorted(int(v) for v in da.unique(volume).compute() if v != 0) if selected is None else list(selected)
    rows = []
    for value in values:
        top = chunked_topology(volume == value, connectivity, progress, name=f"{path} label {value}")
        rows.append([value, top.voxels, *top.betti.tolist(), top.euler])
    return tuple(volume.shape), rows


def _dice(intersection: int, pred: int, target: int) -> float:
    """Dice as :func:`monai.metrics.compute_dice` with ``ignore_empty=False`` (1 when both are empty)."""
    if target == 0:
        return 1.0 if pred == 0 else 0.0
    return 2.0 * intersection / (pred + target)


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
    is not computed chunk by chunk).

    Raises:
        VolumeError: for an unreadable file or chunk (named).
        ValueError: for different shapes or chunk grids (the message names both files and suggests ``--chunks``).
    """
    import dask.array as da

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
    if labels is None:
        found = np.union1d(*da.compute(da.unique(pred), da.unique(target)))
        labels = sorted(int(v) for v in found if v != 0)
    rows = []
    for label in labels:
        pair = chunked_pair_topology(
            pred == label, target == label, connectivity, progress=progress, names=(names[0], names[1])
        )
        dice = _dice(pair.intersection, pair.pred.voxels, pair.target.voxels)
        rows.append(
            case_row(label, pred.ndim, dice, pair.pred.betti, pair.target.betti, float("nan"), pair.splits, pair.merges)
        )
    return rows
