"""Cost of the Betti matching error in the evaluation: ``evaluate_case`` with and without ``betti_matching=True``.

Goal of issue 16: a default column of ``monai-topo evaluate`` may add at most ~25 % to the evaluation; beyond that it
is an option (``--betti-matching``). Timed in the same run on the cases of the overlays benchmark: the built-in
synthetic neuron (:func:`monai_topo.data.neuron.make_neuron_volume`) against a good prediction with gaps, spurious
blobs and boundary noise (the ``"trained"`` scenario of the SupervoxelLoss benchmark), serially (one thread), each
timing the best of several rounds in which the compared calls run in turn
(:func:`benchmarks.utils.best_times_interleaved`).

Example::

    python -m benchmarks --only evaluate-betti-matching
    python -m benchmarks.evaluate_betti_matching        # the same, as JSON
"""

from __future__ import annotations

import numpy as np

from benchmarks.supervoxel import trained_logits
from benchmarks.utils import best_times_interleaved

__all__ = ["COLUMNS", "benchmark_evaluate_betti_matching"]

#: the columns of the printed table
COLUMNS = [
    "case",
    "evaluate_s",
    "with_matching_s",
    "matching_alone_s",
    "ratio",
    "betti_error",
    "betti_matching_error",
]


def benchmark_evaluate_betti_matching(
    size: int = 128, num_cases: int = 3, repeats: int = 5, seed: int = 0, clock: str = "wall"
) -> dict[str, object]:
    """Time ``evaluate_case`` without and with ``betti_matching=True`` (and the matching alone) per case.

    Args:
        size: edge of the cubic cases.
        num_cases: number of cases.
        repeats: rounds; each timing is the best of its rounds, the compared calls in turn in each round.
        seed: seed of the synthetic data.
        clock: ``"wall"`` or ``"cpu"`` (see :func:`benchmarks.utils.best_time`).

    Returns:
        ``{"cases": [...], "evaluate_s", "with_matching_s", "overhead", ...}``: per case the seconds of each call,
        their ratio and the summed Betti error and Betti matching error of the case; ``overhead`` is the total
        time with the matching over the total without, minus 1.
    """
    from monai_topo.data.neuron import make_neuron_volume
    from monai_topo.evaluation import evaluate_case
    from monai_topo.topology import betti_matching_error

    rows = []
    for i in range(num_cases):
        target = make_neuron_volume(size, seed=seed + i).label
        pred = (trained_logits(target > 0, seed + i) > 0).astype(np.uint8)
        p, t = pred > 0, target > 0
        timings = best_times_interleaved(
            {
                "evaluate_s": lambda p_=pred, t_=target: evaluate_case(p_, t_, num_workers=1),
                "with_matching_s": lambda p_=pred, t_=target: evaluate_case(
                    p_, t_, num_workers=1, betti_matching=True
                ),
                "matching_alone_s": lambda p_=p, t_=t: betti_matching_error(p_, t_),
            },
            repeats,
            clock,
        )
        row = evaluate_case(pred, target, num_workers=1, betti_matching=True)[0]
        rows.append(
            {
                "case": i,
                **timings,
                "ratio": timings["with_matching_s"] / timings["evaluate_s"],
                "betti_error": sum(int(row[f"betti_error_b{k}"]) for k in range(3)),
                "betti_matching_error": int(row["betti_matching_error"]),
            }
        )
    evaluate_s = sum(float(r["evaluate_s"]) for r in rows)
    with_matching_s = sum(float(r["with_matching_s"]) for r in rows)
    return {
        "cases": rows,
        "size": size,
        "evaluate_s": evaluate_s,
        "with_matching_s": with_matching_s,
        "overhead": with_matching_s / evaluate_s - 1,
        "clock": clock,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(benchmark_evaluate_betti_matching(), indent=2, default=str))
