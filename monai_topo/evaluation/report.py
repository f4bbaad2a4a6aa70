"""The report of an evaluation: the CSV of the per-case rows, the means per label, the plot and a text table."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_topo.evaluation.case import BETTI_MATCHING_COLUMNS, MAX_DIMS

__all__ = ["COLUMNS", "format_table", "plot_formats", "summarise", "write_csv", "write_plot"]

#: the CSV columns, in order (``--betti-matching`` adds :data:`monai_topo.evaluation.case.BETTI_MATCHING_COLUMNS`
#: after them, ``--overlays`` one ``n_<class>`` column per error class)
COLUMNS = (
    ["case", "label", "dice"]
    + [f"betti_error_b{k}" for k in range(MAX_DIMS)]
    + [f"pred_b{k}" for k in range(MAX_DIMS)]
    + [f"label_b{k}" for k in range(MAX_DIMS)]
    + ["cldice", "splits", "merges"]
)
_SUMMARY = ["dice"] + [f"betti_error_b{k}" for k in range(MAX_DIMS)] + ["cldice", "splits", "merges"]


def write_csv(rows: Sequence[dict[str, object]], path: Path) -> None:
    """Write the per-case, per-label rows (empty cells for dimensions a 2D case lacks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        extra = list(dict.fromkeys(k for row in rows for k in row if k not in COLUMNS))  # e.g. --overlays counts
        matching = [k for k in BETTI_MATCHING_COLUMNS if k in extra]  # first, wherever a row put them
        extra = matching + [k for k in extra if k not in matching]
        writer = csv.DictWriter(f, fieldnames=COLUMNS + extra)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in COLUMNS + extra})


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if np.isnan(value) else f"{value:.6g}"
    return value


def summarise(rows: Sequence[dict[str, object]]) -> tuple[list[str], list[list[object]]]:
    """Per-label means (NaN and missing dimensions skipped): ``(headers, rows)`` for :func:`format_table`; the
    summed Betti matching error is a column where the rows have it."""
    columns = _SUMMARY + [c for c in BETTI_MATCHING_COLUMNS[:1] if any(c in r for r in rows)]
    headers = ["label", "cases"] + columns
    table = []
    for label in sorted({int(r["label"]) for r in rows}):  # type: ignore[call-overload]
        mine = [r for r in rows if r["label"] == label]
        line: list[object] = [label, len(mine)]
        for column in columns:
            values = [float(r[column]) for r in mine if r.get(column) is not None]  # type: ignore[arg-type]
            values = [v for v in values if not np.isnan(v)]
            line.append(float(np.mean(values)) if values else None)
        table.append(line)
    return headers, table


def plot_formats() -> frozenset[str]:
    """The file endings :func:`write_plot` writes (matplotlib's formats), lower case without the dot.

    Example:
        >>> {"png", "pdf", "svg"} <= plot_formats() and "txt" not in plot_formats()
        True
    """
    from matplotlib.backend_bases import FigureCanvasBase

    return frozenset(FigureCanvasBase.get_supported_filetypes())


def write_plot(rows: Sequence[dict[str, object]], path: Path) -> None:
    """Per-label box plots of Dice and clDice and bars of the mean Betti error per dimension (Agg, no pyplot)."""
    from matplotlib.figure import Figure

    labels = sorted({int(r["label"]) for r in rows})  # type: ignore[call-overload]
    names = [str(k) for k in labels]
    fig = Figure(figsize=(5 + 1.2 * len(labels), 4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, column, title in ((axes[0], "dice", "Dice"), (axes[1], "cldice", "clDice")):
        data = [[float(r[column]) for r in rows if r["label"] == k] for k in labels]  # type: ignore[arg-type]
        ax.boxplot(data)
        ax.set_xticks(range(1, len(names) + 1), names)
        ax.set(title=title, xlabel="label", ylim=(-0.05, 1.05))
    dims = [k for k in range(MAX_DIMS) if any(r.get(f"betti_error_b{k}") is not None for r in rows)]
    width = 0.8 / max(len(dims), 1)
    positions = np.arange(len(labels))
    for j, k in enumerate(dims):
        means = []
        for label in labels:
            column = f"betti_error_b{k}"
            values = [float(r[column]) for r in rows if r["label"] == label and r.get(column) is not None]  # type: ignore[arg-type]
            means.append(np.mean(values) if values else 0.0)
        axes[2].bar(positions + (j - (len(dims) - 1) / 2) * width, means, width, label=f"b{k}")
    axes[2].set(title="mean Betti error", xlabel="label", xticks=positions, xticklabels=names)
    axes[2].margins(y=0.25)
    axes[2].legend(fontsize="small", loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain right-aligned text table; floats with 4 decimals, ``None`` as ``-``.

    Example:
        >>> print(format_table(["label", "b0"], [[1, 2]]))
        label  b0
            1   2
    """

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, (float, np.floating)):
            return "nan" if np.isnan(value) else f"{value:.4f}"
        return str(value)

    text = [[str(h) for h in headers]] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(headers))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in text)
