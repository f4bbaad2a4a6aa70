"""Pictures of where the topological errors are: maximum-intensity projections with the error classes coloured.

The label map comes from :func:`monai_topo.topology.topological_errors`. The pictures are palette images drawn
with numpy (text rendered by Pillow once per string and cached; no display needed, a few milliseconds per case).
Given Betti matchings (:func:`monai_topo.topology.betti_matching`), the birth and death voxels of the features left
unmatched are marked with small crosses (:data:`UNMATCHED_COLORS`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from monai_topo.topology import BettiMatching
from monai_topo.topology.errors import TOPOLOGICAL_ERROR_CODES

__all__ = [
    "ERROR_COLORS",
    "UNMATCHED_COLORS",
    "error_projection",
    "render_error_overlay",
    "save_error_overlay",
    "split_merge_notes",
]

#: RGB colour (0-1) of each error class; the object-level and loop errors are saturated, the ordinary ones dim
ERROR_COLORS: dict[int, tuple[float, float, float]] = {
    1: (0.95, 0.10, 0.10),  # split: red
    2: (1.00, 0.55, 0.00),  # missed object: orange
    3: (1.00, 0.00, 1.00),  # merge: magenta
    4: (1.00, 0.90, 0.00),  # spurious object: yellow
    5: (0.20, 0.35, 0.75),  # other false negative: dim blue
    6: (0.15, 0.55, 0.25),  # other false positive: dim green
    7: (0.00, 0.90, 1.00),  # missing loop: cyan
    8: (0.60, 0.35, 1.00),  # extra loop: violet
    9: (0.65, 0.40, 0.15),  # missing cavity: brown
    10: (1.00, 0.60, 0.80),  # extra cavity: pink
}
#: RGB colour (0-1) of the crosses on the birth / death voxels of the unmatched features of a Betti matching
UNMATCHED_COLORS: dict[str, tuple[float, float, float]] = {
    "prediction": (1.00, 1.00, 1.00),  # unmatched in the prediction: white
    "target": (0.55, 1.00, 0.00),  # unmatched in the target: lime
}
_TARGET_GREY, _PRED_GREY = 0.30, 0.62
# drawing order: ordinary errors first, the object-level ones last (on top where projections overlap)
_DRAW_ORDER = (5, 6, 10, 9, 8, 7, 4, 2, 3, 1)
_ORDINARY = (5, 6)
_DRAW_RANK = np.zeros(max(TOPOLOGICAL_ERROR_CODES) + 1, np.int64)
_DRAW_RANK[list(_DRAW_ORDER)] = np.arange(len(_DRAW_ORDER))
_WIDENED = np.array([code not in _ORDINARY for code in _DRAW_ORDER])


def _check_maps(errors: np.ndarray, target: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, ...]:
    errors = np.asarray(errors)
    target, pred = (m if isinstance(m, np.ndarray) and m.dtype == bool else np.asarray(m) != 0 for m in (target, pred))
    if not (errors.shape == target.shape == pred.shape):
        raise ValueError(
            f"errors {errors.shape}, target {target.shape} and prediction {pred.shape} must have the same shape."
        )
    if errors.ndim not in (2, 3):
        raise ValueError(f"expected 2D or 3D maps, got shape {errors.shape}.")
    return errors, target, pred


# the pictures are palette images: one byte per pixel (fast to draw, to magnify and to encode as PNG)
_WHITE, _BLACK, _TARGET, _PRED = 0, 1, 2, 3
_TEXT_LEVELS = 16  # grey levels of the (anti-aliased) text, indices _TEXT .. _TEXT + 15, darkest first
_TEXT = 4 + max(TOPOLOGICAL_ERROR_CODES)
_UNMATCHED = {"prediction": _TEXT + _TEXT_LEVELS, "target": _TEXT + _TEXT_LEVELS + 1}


def _palette_floats() -> np.ndarray:
    """RGB (0-1) of every palette index: the exact colours of :data:`ERROR_COLORS`, the greys, the text levels."""
    colours = [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (_TARGET_GREY,) * 3, (_PRED_GREY,) * 3]
    colours += [ERROR_COLORS[code] for code in sorted(TOPOLOGICAL_ERROR_CODES)]
    colours += [(level / (_TEXT_LEVELS - 1),) * 3 for level in range(_TEXT_LEVELS)]
    colours += [UNMATCHED_COLORS[side] for side in _UNMATCHED]
    return np.array(colours)


_PALETTE = np.round(_palette_floats() * 255).astype(np.uint8)  # (n, 3) uint8 RGB of every palette index


def _code_index(code: int) -> int:
    return 4 + sorted(TOPOLOGICAL_ERROR_CODES).index(code)


def error_projection(
    errors: np.ndarray, target: np.ndarray, pred: np.ndarray, axis: int = 0, widen: int = 1
) -> np.ndarray:
    """RGB picture (float, 0-1) of the maximum-intensity projection of a 3D case along ``axis`` (2D: as is).

    Background black, target dark grey, prediction light grey; every error class in its colour
    (:data:`ERROR_COLORS`) wherever one of its voxels projects. The non-ordinary classes are widened by
    ``widen`` pixels (a diamond: the default binary dilation, ``widen`` times) so that a one-voxel cut stays
    visible; where projections overlap, splits and merges are on top and the ordinary false negatives /
    positives at the bottom.

    Args:
        errors: label map of :func:`monai_topo.topology.topological_errors`.
        target: target mask (non-zero = foreground) of the same shape.
        pred: predicted mask of the same shape.
        axis: projection axis of a 3D case (ignored in 2D).
        widen: pixels by which the non-ordinary classes are dilated in the picture (0: exact projections).

    Returns:
        an ``(H, W, 3)`` float array.

    Raises:
        ValueError: for maps of different shapes or not 2D / 3D.

    Example:
        >>> err = np.zeros((2, 3), np.uint8); err[0, 1] = 1
        >>> error_projection(err, err > 0, err > 5, widen=0)[0, 1].tolist()
        [0.95, 0.1, 0.1]
    """
    errors, target, pred = _check_maps(errors, target, pred)
    return _palette_floats()[_projection(errors, target, pred, _sparse(errors), axis, widen)]


def _sparse(errors: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Coordinates and codes of the error voxels (errors are sparse: project them, not one mask per class)."""
    index = np.flatnonzero(errors != 0)  # (np.flatnonzero is ~10x faster on bool than on uint8 arrays)
    return np.unravel_index(index, errors.shape), errors.ravel()[index]


def _projection(
    errors: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    sparse: tuple[tuple[np.ndarray, ...], np.ndarray],
    axis: int,
    widen: int,
) -> np.ndarray:
    """Palette indices (uint8) of one panel: see :func:`error_projection`."""
    project = (lambda a: a) if errors.ndim == 2 else (lambda a: a.any(axis=axis))
    shown_target, shown_pred = project(target), project(pred)
    panel = np.where(shown_pred, _PRED, np.where(shown_target, _TARGET, _BLACK)).astype(np.uint8)
    coords, codes = sparse
    rows, cols = coords if errors.ndim == 2 else tuple(c for a, c in enumerate(coords) if a != axis)
    # one plane per class (in drawing order) with the pixels its voxels project to; the non-ordinary ones widened
    # by `widen` steps of the 4-neighbour cross (binary dilation: a diamond); then painted in drawing order
    planes = np.zeros((len(_DRAW_ORDER),) + panel.shape, bool)
    planes[_DRAW_RANK[codes], rows, cols] = True
    if widen:
        grown = planes[_WIDENED]
        for _ in range(widen):
            step = grown.copy()
            step[:, 1:] |= grown[:, :-1]
            step[:, :-1] |= grown[:, 1:]
            step[:, :, 1:] |= grown[:, :, :-1]
            step[:, :, :-1] |= grown[:, :, 1:]
            grown = step
        planes[_WIDENED] = grown
    for rank, code in enumerate(_DRAW_ORDER):
        panel[planes[rank]] = _code_index(code)
    return panel


def _panel_scale(shapes: list[tuple[int, ...]], target_size: int = 256, max_scale: int = 32) -> int:
    """Integer magnification that brings the largest panel side to about ``target_size`` pixels."""
    longest = max(max(shape[:2]) for shape in shapes)
    return int(min(max_scale, max(1, round(target_size / max(longest, 1)))))


@functools.lru_cache(maxsize=512)
def _text_indices(text: str, size: int) -> np.ndarray:
    """Palette indices of ``text`` drawn in black on white (anti-aliased greys; white = ``_WHITE``), cached."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    image = Image.new("L", (max(right, 1), max(bottom, 1)), 255)
    ImageDraw.Draw(image).text((0, 0), text, fill=0, font=font)
    grey = np.round(np.asarray(image) / 255 * (_TEXT_LEVELS - 1)).astype(np.uint8)
    indices = (_TEXT + grey).astype(np.uint8)
    indices[grey == _TEXT_LEVELS - 1] = _WHITE
    return indices


def _draw_text(canvas: np.ndarray, xy: tuple[int, int], text: str, size: int = 13) -> int:
    """Draw ``text`` on the (white) ``canvas`` with its top-left at ``xy = (x, y)``; returns its width."""
    glyphs = _text_indices(text, size)
    x, y = xy
    h, w = min(glyphs.shape[0], canvas.shape[0] - y), min(glyphs.shape[1], canvas.shape[1] - x)
    region = canvas[y : y + h, x : x + w]
    ink = glyphs[:h, :w] != _WHITE
    region[ink] = glyphs[:h, :w][ink]
    return glyphs.shape[1]


def _unmatched_voxels(
    matchings: BettiMatching | Sequence[BettiMatching] | None, shape: tuple[int, ...]
) -> dict[str, tuple[np.ndarray, int]]:
    """Per side, the birth and death voxels ``(k, ndim)`` of the unmatched features of all ``matchings`` and their
    number of features (``{}`` without matchings)."""
    if matchings is None:
        return {}
    records = [matchings] if isinstance(matchings, BettiMatching) else list(matchings)
    out = {}
    for side, prefix, count in (("prediction", "pred", "unmatched_pred"), ("target", "target", "unmatched_target")):
        points = [np.zeros((0, len(shape)), np.int64)]
        for record in records:
            points += [np.asarray(p, np.int64) for p in getattr(record, f"{prefix}_births")]
            points += [np.asarray(p, np.int64) for p in getattr(record, f"{prefix}_deaths")]
        if any(p.ndim != 2 or p.shape[1] != len(shape) for p in points):
            raise ValueError(f"the Betti matchings are not of {len(shape)}D masks like the errors {shape}.")
        voxels = np.concatenate(points)
        if ((voxels < 0) | (voxels >= np.array(shape))).any():
            raise ValueError(f"a Betti matching's voxels lie outside the image of shape {shape}.")
        out[side] = (voxels, int(sum(int(np.sum(getattr(r, count))) for r in records)))
    return out


def _draw_crosses(canvas: np.ndarray, rows: np.ndarray, cols: np.ndarray, index: int, arm: int) -> None:
    """Plus signs of palette ``index``, arms of ``arm`` pixels, centred on ``(rows, cols)``, clipped to ``canvas``."""
    steps = range(-arm, arm + 1)
    for dr, dc in [(d, 0) for d in steps] + [(0, d) for d in steps if d]:
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < canvas.shape[0]) & (c >= 0) & (c < canvas.shape[1])
        canvas[r[inside], c[inside]] = index


def _render_indexed(
    errors: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    counts: Mapping[int, int] | None,
    title: str | None,
    widen: int,
    matchings: BettiMatching | Sequence[BettiMatching] | None = None,
    notes: Sequence[str] = (),
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """:func:`render_error_overlay` as palette indices (``_PALETTE``)."""
    errors, target, pred = _check_maps(errors, target, pred)
    unmatched = _unmatched_voxels(matchings, errors.shape)
    axes_ = (0,) if errors.ndim == 2 else (0, 1, 2)
    sparse = _sparse(errors)
    pictures = [_projection(errors, target, pred, sparse, axis, widen) for axis in axes_]
    scale = _panel_scale([p.shape for p in pictures])
    margin, gap, header, swatch, line = 10, 12, 44 if title else 24, 14, 19
    entries = [("target only", _TARGET), ("prediction", _PRED)]
    for code, name in TOPOLOGICAL_ERROR_CODES.items():
        if errors.ndim == 3 or code < 9:
            label = name if counts is None else f"{name}: {int(counts.get(code, 0))}"
            entries.append((label, _code_index(code)))
    for side, (_, number) in unmatched.items():
        entries.append((f"unmatched in {side}: {number}", _UNMATCHED[side]))
    legend_w = 230
    panels_w = sum(p.shape[1] * scale for p in pictures) + gap * (len(pictures) - 1)
    panels_h = max(p.shape[0] * scale for p in pictures)
    legend_h = line * (len(entries) + 1) + (line * len(notes) + line // 2 if notes else 0)
    height = max(header + panels_h, header + legend_h) + margin
    canvas = np.full((height, margin + panels_w + gap + legend_w + margin), _WHITE, np.uint8)
    layout, left = [], margin
    for picture, axis in zip(pictures, axes_):
        big = np.repeat(np.repeat(picture, scale, 0), scale, 1)
        for side, (voxels, _) in unmatched.items():  # crosses on the panel, clipped to it
            rows, cols = voxels.T if errors.ndim == 2 else np.delete(voxels, axis, axis=1).T
            centre_rows, centre_cols = rows * scale + scale // 2, cols * scale + scale // 2
            _draw_crosses(big, centre_rows, centre_cols, _UNMATCHED[side], max(2, scale // 2 + 1))
        canvas[header : header + big.shape[0], left : left + big.shape[1]] = big
        layout.append((header, left, scale))
        left += big.shape[1] + gap
    if title:
        _draw_text(canvas, (margin, 6), title, size=16)
    if errors.ndim == 3:
        for (top, x, _), axis in zip(layout, axes_):
            rest = [a for a in range(3) if a != axis]
            _draw_text(canvas, (x, top - 18), f"max over axis {axis} (rows {rest[0]}, cols {rest[1]})")
    x0 = margin + panels_w + gap
    _draw_text(canvas, (x0, header - 18), "error regions per class" + (" / features" if unmatched else ""))
    for i, (label, index) in enumerate(entries):
        y = header + i * line
        canvas[y : y + swatch + 1, x0 : x0 + swatch + 1] = index
        # the name and the count drawn apart: each is cached across cases
        name, _, count = label.partition(": ")
        width = _draw_text(canvas, (x0 + swatch + 6, y), name + (":" if count else ""))
        if count:
            _draw_text(canvas, (x0 + swatch + 6 + width + 4, y), count)
    for i, note in enumerate(notes):  # below the entries, e.g. the per-object counts of the same case
        _draw_text(canvas, (x0, header + (len(entries) + i) * line + line // 2), note)
    return canvas, layout


def split_merge_notes(splits: float, merges: float) -> list[str]:
    """Legend lines (``notes``) of the per-object counts of a case, shown next to its error regions.

    The ``splits`` / ``merges`` of :func:`monai_topo.metrics.split_merge_counts` (the CSV columns of the same
    names) count pieces: a target object overlapped by ``k`` predicted components adds ``k - 1`` splits, a predicted
    component overlapping ``k`` objects ``k - 1`` merges. The legend's split / merge *regions* count places: a gap
    touching two or more correct parts of one object is one region, whatever it leaves (a ring cut twice: 2 regions,
    1 extra piece; a missed junction of 3 branches: 1 region, 2 extra pieces; a gap the prediction goes around:
    1 region, no extra piece). A count that is not a number (NaN) is left out.

    Example:
        >>> split_merge_notes(8, 0.0)
        ['splits (extra pieces): 8', 'merges (objects joined): 0']
    """
    lines = []
    for name, what, value in (("splits", "extra pieces", splits), ("merges", "objects joined", merges)):
        value = float(value)
        if np.isfinite(value):
            lines.append(f"{name} ({what}): {int(value) if value.is_integer() else round(value, 2)}")
    return lines


def render_error_overlay(
    errors: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    counts: Mapping[int, int] | None = None,
    title: str | None = None,
    widen: int = 1,
    matchings: BettiMatching | Sequence[BettiMatching] | None = None,
    notes: Sequence[str] = (),
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Picture of the error classes on the projections of target and prediction, with a legend of counts.

    A 3D case gets three panels (projections along axes 0, 1, 2, :func:`error_projection`), a 2D one a single
    panel, magnified by an integer factor (nearest neighbour) to about 256 pixels. The legend ("error regions per
    class") lists every class (the cavity classes only in 3D) with its number of regions, the connected components
    of its voxels (``counts``, e.g. from :func:`monai_topo.topology.error_component_counts`; omitted when
    ``None``): a *split* region is one gap, however many pieces it leaves, which is what the ``splits`` of
    :func:`monai_topo.metrics.split_merge_counts` count (e.g. give them as ``notes``). Drawn as a palette image with
    numpy (text from Pillow, cached), so it can be made for every case of an evaluation (a few milliseconds).

    Args:
        errors, target, pred: as :func:`error_projection`.
        counts: regions (connected components) per class code.
        title: title line (e.g. the case name).
        widen: as :func:`error_projection`.
        matchings: Betti matchings of the masks (:func:`monai_topo.topology.betti_matching`, one or one per label):
            the birth and death voxels of the unmatched features are marked with crosses, white for the
            prediction's and lime for the target's (:data:`UNMATCHED_COLORS`), and the legend gets their numbers.
        notes: lines of text under the legend (e.g. ``"splits (extra pieces): 8"``).

    Returns:
        ``(image, layout)``: an ``(H, W, 3)`` uint8 RGB array, and per panel ``(top, left, scale)``: pixel
        ``(row, col)`` of panel ``i`` covers ``image[top + row * scale : top + (row + 1) * scale, left + col *
        scale : ...]``.

    Example:
        >>> err = np.zeros((4, 4, 4), np.uint8); err[1, 1, 1] = 1
        >>> image, layout = render_error_overlay(err, err > 0, err > 5)
        >>> image.dtype, len(layout)
        (dtype('uint8'), 3)
    """
    canvas, layout = _render_indexed(errors, target, pred, counts, title, widen, matchings, notes)
    return _PALETTE[canvas], layout


def save_error_overlay(
    path: str | Path,
    errors: np.ndarray,
    target: np.ndarray,
    pred: np.ndarray,
    counts: Mapping[int, int] | None = None,
    title: str | None = None,
    widen: int = 1,
    matchings: BettiMatching | Sequence[BettiMatching] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """Write the picture of :func:`render_error_overlay` (same arguments) to a PNG file; returns the path.

    The file is a palette PNG: the same pixels as :func:`render_error_overlay`'s RGB array, a third of the bytes.

    Raises:
        OSError: when the file cannot be written (the message names it).
    """
    from PIL import Image

    path = Path(path)
    canvas, _ = _render_indexed(errors, target, pred, counts, title, widen, matchings, notes)
    image = Image.fromarray(canvas, mode="P")
    image.putpalette(_PALETTE.ravel().tolist())
    try:
        image.save(path, format="PNG", compress_level=1)
    except OSError as e:
        raise OSError(f"cannot write {path} ({type(e).__name__}: {e})") from e
    return path
