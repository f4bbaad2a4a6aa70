"""Measurement helpers shared by the benchmark modules: best-of-N timing and the process's (peak) RSS."""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CLOCKS",
    "best_time",
    "best_times_interleaved",
    "child_env",
    "current_rss_bytes",
    "peak_rss_bytes",
    "reset_peak_rss",
]

#: clocks by name: wall-clock time, or CPU time of this process (robust when other work shares the cores)
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def best_time(fn: Callable[[], object], repeats: int = 3, clock: str | Callable[[], float] = "wall") -> float:
    """Best time of ``repeats`` calls of ``fn``, in seconds, on ``clock`` (``"wall"``, ``"cpu"`` or a callable).

    Example:
        >>> best_time(lambda: sum(range(1000)), repeats=2) >= 0.0
        True
    """
    return best_times_interleaved({"fn": fn}, repeats, clock)["fn"]


def best_times_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int = 5, clock: str | Callable[[], float] = "wall"
) -> dict[str, float]:
    """Best time of each function over ``repeats`` rounds, the functions called in turn within each round.

    For a ratio of two timings on a shared machine: a slow spell hits both sides alike, and the minimum drops it.

    Example:
        >>> times = best_times_interleaved({"a": lambda: sum(range(100)), "b": lambda: None}, repeats=2)
        >>> sorted(times)
        ['a', 'b']
    """
    timer = CLOCKS[clock] if isinstance(clock, str) else clock
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(max(1, repeats)):
        for name, fn in fns.items():
            start = timer()
            fn()
            best[name] = min(best[name], timer() - start)
    return best


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``VmHWM``; ``getrusage`` where /proc is missing)."""
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def current_rss_bytes() -> int | None:
    """Current resident set size of this process, or ``None`` where /proc is missing."""
    rss = _status_kb("VmRSS")
    return None if rss is None else rss * 1024


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0, ``/proc/self/clear_refs``); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def child_env() -> dict[str, str]:
    """The environment of a ``python -m benchmarks.<module> --child`` subprocess: this one, with the folder that holds
    the ``benchmarks`` package first on ``PYTHONPATH`` (the benchmarks are not installed with monai_topo)."""
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
