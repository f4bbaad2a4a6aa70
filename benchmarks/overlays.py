"""Cost of ``monai-topo evaluate --overlays``: the error label map, its NIfTI file and picture, against the evaluation.

Goal: ``--overlays`` adds at most 25 % to the time of ``monai-topo evaluate`` on 128^3 cases. Timed in the same run
on the same synthetic neuron cases (:func:`monai_topo.data.neuron.make_neuron_volume`) with a good prediction that
has gaps, spurious blobs and boundary noise (the ``"trained"`` scenario of the SupervoxelLoss benchmark), two ways:

- per case: :func:`monai_topo.evaluation.evaluate_case` against the overlay step of ``--overlays``
  (:func:`monai_topo.evaluation.write_case_overlays`, given the labellings the evaluation made, as the CLI does:
  the error map with its class counts, the NIfTI file, compressed on a background thread while the picture is
  drawn, and the PNG);
- end to end: :func:`monai_topo.evaluation.evaluate_folders` on the folders of NIfTI files (reading included),
  with and without an overlays folder; and the same with ``betti_matching=True`` (``evaluate --betti-matching``),
  where ``--overlays`` also draws the unmatched features of the Betti matching (computed then with their voxels).

Each timing is the best of several rounds in which the compared steps run in turn
(:func:`benchmarks.utils.best_times_interleaved`): on a shared machine a slow spell hits both alike.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.supervoxel import trained_logits
from benchmarks.utils import best_times_interleaved

__all__ = ["benchmark_overlays"]


def benchmark_overlays(
    size: int = 128,
    num_cases: int = 3,
    repeats: int = 7,
    seed: int = 0,
    num_workers: int | None = 1,
    clock: str = "wall",
) -> dict[str, object]:
    """Time ``evaluate_case`` and the overlay step of ``--overlays`` (label map, NIfTI, PNG) per case.

    Args:
        size: edge of the cubic cases.
        num_cases: number of cases.
        repeats: rounds; each timing is the best of its rounds, the compared steps called in turn in each round
            (:func:`benchmarks.utils.best_times_interleaved`).
        seed: seed of the synthetic data.
        num_workers: threads of ``evaluate_case`` (1: the serial cost).
        clock: ``"wall"`` or ``"cpu"`` (see :func:`benchmarks.utils.best_time`).

    Returns:
        ``{"cases": [...], "evaluate_s", "overlays_s", "overhead", "folders_evaluate_s", "folders_overlays_s",
        "overhead_end_to_end"}``: per case the seconds of ``evaluate_case``, of the overlay step (``overlays_s``),
        of :func:`topological_errors` alone with and without the loop analysis, the error fraction and the class
        counts; ``overhead`` is total overlay time over total evaluation time; ``folders_*_s`` the seconds of
        ``evaluate_folders`` on all cases without and with ``overlays``, ``overhead_end_to_end`` their ratio - 1;
        ``folders_matching_*_s`` and ``overhead_matching_end_to_end`` the same with ``betti_matching=True``.
    """
    import nibabel as nib

    from monai_topo.evaluation import evaluate_case, evaluate_folders, write_case_overlays
    from monai_topo.evaluation.overlays import OVERLAY_COLUMNS
    from monai_topo.evaluation.case import evaluate_case_with_labellings
    from monai_topo.data.neuron import make_neuron_volume
    from monai_topo.topology import topological_errors

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pred_dir, label_dir, overlay_dir = folder / "pred", folder / "label", folder / "overlays"
        for sub in (pred_dir, label_dir, overlay_dir):
            sub.mkdir()
        for i in range(num_cases):
            target = make_neuron_volume(size, seed=seed + i).label
            pred = (trained_logits(target > 0, seed + i) > 0).astype(np.uint8)
            label_path = label_dir / f"case_{i}.nii.gz"
            nib.save(nib.Nifti1Image(target, np.eye(4)), str(label_path))
            nib.save(nib.Nifti1Image(pred, np.eye(4)), str(pred_dir / label_path.name))
            case_rows, labellings = evaluate_case_with_labellings(pred, target, None, None, num_workers)
            row: dict[str, object] = {"case": i, "error_fraction": float((pred != target).mean())}
            timings = {
                "evaluate_s": lambda p=pred, t=target: evaluate_case(p, t, num_workers=num_workers),
                "overlays_s": lambda p=pred, t=target, n=f"case_{i}", lp=label_path, r=case_rows, lb=labellings: (
                    write_case_overlays(overlay_dir, n, p, t, lp, r, None, lb)
                ),
                "errors_s": lambda p=pred, t=target: topological_errors(p > 0, t > 0),
                "errors_no_loops_s": lambda p=pred, t=target: topological_errors(p > 0, t > 0, loops=False),
            }
            row.update(best_times_interleaved(timings, repeats, clock))
            row["ratio"] = row["overlays_s"] / row["evaluate_s"]
            row.update({column: case_rows[0][column] for column in OVERLAY_COLUMNS.values()})
            rows.append(row)
        evaluate_s = sum(float(r["evaluate_s"]) for r in rows)
        overlays_s = sum(float(r["overlays_s"]) for r in rows)
        folders = best_times_interleaved(
            {
                f"folders_{name}_s": lambda o=out, m=matching: evaluate_folders(
                    pred_dir, label_dir, num_workers=num_workers, progress=False, overlays=o, betti_matching=m
                )
                for name, out, matching in (
                    ("evaluate", None, False),
                    ("overlays", overlay_dir, False),
                    ("matching_evaluate", None, True),
                    ("matching_overlays", overlay_dir, True),
                )
            },
            repeats,
            clock,
        )
    return {
        "cases": rows,
        "size": size,
        "evaluate_s": evaluate_s,
        "overlays_s": overlays_s,
        "overhead": overlays_s / evaluate_s,
        **folders,
        "overhead_end_to_end": folders["folders_overlays_s"] / folders["folders_evaluate_s"] - 1,
        "overhead_matching_end_to_end": folders["folders_matching_overlays_s"] / folders["folders_matching_evaluate_s"]
        - 1,
        "clock": clock,
    }


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(benchmark_overlays(), indent=2, default=str))
