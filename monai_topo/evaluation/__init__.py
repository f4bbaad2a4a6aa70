"""Topology-aware evaluation of segmentations: one case, one folder of cases, the report and the error overlays.

- :func:`evaluate_case`: Dice, Betti numbers and their error per dimension, clDice, splits and merges of a predicted
  label map against its target, one row per label; :func:`evaluate_case_chunked` the same chunk by chunk for
  volumes larger than memory (Zarr, OME-Zarr, large NIfTI).
- :func:`evaluate_folders`: every prediction of a folder against its label (paired by case name), failures kept
  per case; :func:`write_csv`, :func:`summarise`, :func:`write_plot`: the report.
- :func:`write_case_overlays`: where the errors are, as a NIfTI label map and a picture.
- :func:`betti_table` / :func:`betti_table_chunked`: Betti numbers of every label of a label map.

This is what ``monai-topo evaluate`` and ``monai-topo betti`` run::

    from pathlib import Path
    from monai_topo.evaluation import evaluate_folders, write_csv

    rows, failures = evaluate_folders(Path("preds"), Path("labels"), overlays=Path("overlays"))
    write_csv(rows, Path("results.csv"))
"""

from __future__ import annotations

from monai_topo.evaluation.case import betti_table, evaluate_case
from monai_topo.evaluation.chunked import betti_table_chunked, evaluate_case_chunked
from monai_topo.evaluation.folders import CaseFailure, evaluate_folders
from monai_topo.evaluation.overlays import write_case_overlays
from monai_topo.evaluation.report import summarise, write_csv, write_plot

__all__ = [
    "CaseFailure",
    "betti_table",
    "betti_table_chunked",
    "evaluate_case",
    "evaluate_case_chunked",
    "evaluate_folders",
    "summarise",
    "write_case_overlays",
    "write_csv",
    "write_plot",
]
