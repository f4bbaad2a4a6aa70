"""Many labels: ``betti``, ``evaluate`` and the chunked path label once and work per object (issue 18.9).

They used to loop over the labels on the whole volume (a mask, a labelling, a one-hot channel per label: O(labels x
voxels) time, ~10 bytes per voxel per label) and, chunk by chunk, read the store once per label. Now each label is
measured on its bounding box, found in one pass (``scipy.ndimage.find_objects``), and a chunked volume is read
once, plus once more for the chunks of the objects that cross a chunk boundary. Checked here without timings
(those are ``python -m benchmarks --only labels``): the voxels that get labelled, the bytes allocated, the chunks
read, and that every number equals the label-by-label computation on whole masks.
"""

from __future__ import annotations

import tracemalloc

import dask
import numpy as np
import pytest
from scipy import ndimage

import monai_topo.topology.labelling as labelling_module
from monai_topo.evaluation import betti_table, betti_table_chunked, evaluate_case, evaluate_case_chunked
from monai_topo.evaluation.labels import measure_labels
from monai_topo.metrics import centerline_dice
from monai_topo.metrics.connectivity_error import split_merge_counts
from monai_topo.topology import betti_numbers, euler_characteristic
from tests.cli.cli_helpers import save_nifti


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def _instances(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """About ``n`` labelled objects that touch each other (cells around random seeds, cut by a smooth random field:
    pieces, loops, cavities), a ring or hollow shell holding another label, and one label in two far-apart places."""
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape, np.int32)
    seeds.flat[rng.choice(seeds.size, size=n, replace=False)] = np.arange(1, n + 1)
    _, nearest = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    field = ndimage.gaussian_filter(rng.random(shape), 1.0)
    out = np.where(field > np.quantile(field, 0.4), seeds[tuple(nearest)], 0).astype(np.int32)
    big = n + 1000
    if len(shape) == 3 and min(shape) >= 12:
        out[1:8, 1:8, 1:8] = big  # a hollow shell (a cavity) with another label inside
        out[3:6, 3:6, 3:6] = big + 1
        out[4, 4, 4] = 0
    else:
        out[1:6, 1:6] = big  # a ring around another label
        out[2:5, 2:5] = 0
        out[3, 3] = big + 1
    out[tuple(s - 2 for s in shape)] = big + 2  # one label, two far-apart pieces
    out[(1,) * (len(shape) - 1) + (shape[-1] - 2,)] = big + 2
    return out


def _perturbed(target: np.ndarray, seed: int, stray: int = 20) -> np.ndarray:
    """A prediction: breaks, voxels taking a neighbour's label (merges at the borders, pieces of one object in
    another), and ``stray`` voxels of random labels anywhere (boxes as large as the image)."""
    rng = np.random.default_rng(seed)
    pred = target.copy()
    pred[rng.random(target.shape) < 0.08] = 0  # breaks
    near = rng.random(target.shape) < 0.05
    shifted = np.roll(target, tuple(rng.integers(-2, 3, size=target.ndim)), axis=tuple(range(target.ndim)))
    pred[near] = shifted[near]
    where = tuple(rng.integers(0, n, size=stray) for n in target.shape)
    pred[where] = rng.choice(np.unique(target), size=stray)
    return pred


def _reference_rows(pred: np.ndarray, target: np.ndarray, connectivity, labels=None) -> list[dict]:
    """Each label on its whole masks, one at a time (what the evaluation computed before)."""
    if labels is None:
        labels = sorted(int(v) for v in np.union1d(np.unique(pred), np.unique(target)) if v != 0)
    rows = []
    for k in labels:
        p, t = pred == k, target == k
        total = int(p.sum() + t.sum())
        splits, merges = split_merge_counts(p, t, connectivity, instance_labels=False)
        rows.append(
            {
                "label": k,
                "dice": 1.0 if total == 0 else 2.0 * np.count_nonzero(p & t) / total,
                "pred": betti_numbers(p, connectivity).tolist(),
                "target": betti_numbers(t, connectivity).tolist(),
                "cldice": centerline_dice(p, t),
                "splits": splits,
                "merges": merges,
            }
        )
    return rows


def _as_reference(rows: list[dict], ndim: int) -> list[dict]:
    return [
        {
            "label": r["label"],
            "dice": r["dice"],
            "pred": [r[f"pred_b{k}"] for k in range(ndim)],
            "target": [r[f"label_b{k}"] for k in range(ndim)],
            "cldice": r["cldice"],
            "splits": r["splits"],
            "merges": r["merges"],
        }
        for r in rows
    ]


def _assert_rows_equal(got: list[dict], expected: list[dict], cldice: bool = True) -> None:
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    for a, b in zip(got, expected):
        assert a["dice"] == pytest.approx(b["dice"], rel=1e-6), a["label"]
        assert (a["pred"], a["target"], a["splits"], a["merges"]) == (b["pred"], b["target"], b["splits"], b["merges"])
        if cldice:
            assert a["cldice"] == pytest.approx(b["cldice"], rel=1e-6), a["label"]
        else:
            assert np.isnan(a["cldice"])


CASES = [((24, 22, 20), 40, None), ((24, 22, 20), 40, 6), ((40, 36), 30, None), ((40, 36), 30, 4)]


@pytest.mark.parametrize("pieces_above", [0, 10**9], ids=["piece-by-piece", "box-by-box"])
@pytest.mark.parametrize("shape, n, connectivity", CASES, ids=["3d-26", "3d-6", "2d-8", "2d-4"])
def test_evaluate_case_equals_label_by_label(shape, n, connectivity, pieces_above, monkeypatch):
    """Both ways of measuring the labels (piece by piece where their boxes overlap much, else box by box)."""
    import monai_topo.evaluation.case as case_module

    monkeypatch.setattr(case_module, "PIECES_ABOVE", pieces_above)
    target = _instances(shape, n, seed=len(shape) * 10 + (connectivity or 0))
    pred = _perturbed(target, seed=1)
    got = _as_reference(evaluate_case(pred, target, connectivity=connectivity, num_workers=2), len(shape))
    _assert_rows_equal(got, _reference_rows(pred, target, connectivity))
    # labels given: absent ones (both empty) are a correct empty prediction, as before
    chosen = [int(target.max()), 424242]
    got = _as_reference(evaluate_case(pred, target, labels=chosen, connectivity=connectivity), len(shape))
    _assert_rows_equal(got, _reference_rows(pred, target, connectivity, chosen))


@pytest.mark.parametrize("shape, n, connectivity", CASES, ids=["3d-26", "3d-6", "2d-8", "2d-4"])
def test_betti_table_equals_label_by_label(shape, n, connectivity):
    volume = _instances(shape, n, seed=3)
    expected = [
        [k, int((volume == k).sum()), *betti_numbers(volume == k, connectivity).tolist()]
        + [euler_characteristic(volume == k, connectivity)]
        for k in sorted(int(v) for v in np.unique(volume) if v != 0)
    ]
    assert betti_table(volume, connectivity=connectivity) == expected
    assert betti_table(volume, [expected[0][0], 777], connectivity) == [expected[0], [777, 0] + [0] * len(shape) + [0]]


@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.float32, np.int8])
def test_label_values_of_any_type_and_sign(dtype):
    volume = _instances((12, 12, 12), 10, seed=5) % 100
    volume = volume.astype(dtype)
    if np.issubdtype(dtype, np.signedinteger):
        volume[volume == volume.max()] = -3  # a negative label
    rows = betti_table(volume)
    expected = sorted(int(v) for v in np.unique(volume) if v != 0)
    assert [r[0] for r in rows] == expected
    assert all(r[2:] == betti_numbers(volume == r[0]).tolist() + [euler_characteristic(volume == r[0])] for r in rows)


@pytest.mark.parametrize("seed", range(24))
def test_measure_labels_equals_whole_masks_under_stray_voxels(seed):
    """Piece by piece equals label by label on whole masks, clDice included, where labels are scattered widely."""
    rng = np.random.default_rng(100 + seed)
    ndim = 2 if seed % 3 == 0 else 3
    shape = tuple(rng.integers(4, 16, size=ndim).tolist())
    n = int(rng.integers(1, 7))
    target = np.where(rng.random(shape) < rng.uniform(0.1, 0.8), rng.integers(1, n + 1, shape), 0).astype(np.int32)
    target = ndimage.median_filter(target, size=2) if seed % 2 else target  # blobs, or noise
    pred = target.copy()
    flip = rng.random(shape) < rng.uniform(0.02, 0.4)
    pred[flip] = rng.integers(0, n + 1, int(flip.sum()))
    connectivity = [None, 4 if ndim == 2 else 6][seed % 2]
    found = measure_labels(pred, target, connectivity=connectivity, num_workers=1 + seed % 2)
    got = [
        {"label": k, "dice": m.dice, "pred": m.pred.betti.tolist(), "target": m.target.betti.tolist(),
         "cldice": m.cldice, "splits": m.splits, "merges": m.merges}
        for k, m in found.items()
    ]
    _assert_rows_equal(got, _reference_rows(pred, target, connectivity))


def test_stray_voxels_cost_a_voxel_not_a_box(monkeypatch):
    """Stray voxels of every label across the image used to give each label a box of most of the image."""
    target = _instances((40, 40, 40), 300, seed=7)
    pred = _perturbed(target, seed=8, stray=600)
    clean = _perturbed(target, seed=8, stray=0)
    assert _box_voxels(pred, target) > 5 * _box_voxels(clean, target)  # the boxes label by label
    sizes = _labelled_voxels(monkeypatch)
    evaluate_case(pred, target, num_workers=1)
    assert sum(sizes) <= 1.1 * 4 * _box_voxels(clean, target), (sum(sizes), _box_voxels(clean, target))


def _labelled_voxels(monkeypatch) -> list[int]:
    """Record the size of every array the connected-component labelling sees."""
    sizes: list[int] = []
    real = labelling_module.label_components

    def recording(mask, *args, **kwargs):
        sizes.append(int(np.size(mask)))
        return real(mask, *args, **kwargs)

    monkeypatch.setattr(labelling_module, "label_components", recording)
    return sizes


def _box_voxels(*volumes: np.ndarray) -> int:
    """Voxels of every label's bounding box in any of ``volumes``, one voxel wider on each side (clipped)."""
    total = 0
    for k in np.unique(np.concatenate([np.unique(v) for v in volumes])):
        if k == 0:
            continue
        where = np.argwhere(np.logical_or.reduce([v == k for v in volumes]))
        lo, hi = np.maximum(where.min(0) - 1, 0), np.minimum(where.max(0) + 2, volumes[0].shape)
        total += int(np.prod(hi - lo))
    return total


def test_evaluate_labels_boxes_not_the_whole_volume_per_label(monkeypatch):
    target = _instances((40, 40, 40), 300, seed=7)
    pred = _perturbed(target, seed=8, stray=0)  # (a label with stray voxels far away has a box as large as the image)
    n_labels = len(np.union1d(np.unique(pred), np.unique(target))) - 1
    assert n_labels > 150
    sizes = _labelled_voxels(monkeypatch)
    evaluate_case(pred, target, num_workers=1)
    # foreground and background of both masks of each label, on the label's box: 4 labellings of the whole volume
    # per label before (4 * 303 * 40^3 = 78 million voxels)
    assert sum(sizes) <= 4 * _box_voxels(pred, target), (sum(sizes), _box_voxels(pred, target))
    assert sum(sizes) < 0.1 * 4 * n_labels * target.size


def test_betti_table_labels_boxes_not_the_whole_volume_per_label(monkeypatch):
    volume = _instances((40, 40, 40), 300, seed=9)
    sizes = _labelled_voxels(monkeypatch)
    betti_table(volume)
    assert sum(sizes) <= 2 * _box_voxels(volume), (sum(sizes), _box_voxels(volume))
    assert sum(sizes) < 0.1 * 2 * (len(np.unique(volume)) - 1) * volume.size


def test_evaluate_memory_does_not_grow_with_the_labels():
    """No one-hot array: 300 labels on 48^3 used to allocate ~10 bytes per voxel and label (~330 MB)."""
    target = _instances((48, 48, 48), 300, seed=11)
    pred = _perturbed(target, seed=12, stray=0)
    tracemalloc.start()
    try:
        evaluate_case(pred, target, num_workers=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 * target.size, peak  # ~2.7 MB here; the int32 inputs are 0.44 MB each


# ------------------------------------------------------------------------------------------------ chunked
@pytest.mark.parametrize(
    "shape, n, connectivity, chunks",
    [
        ((24, 22, 20), 40, None, (7, 6, 5)),
        ((24, 22, 20), 40, 6, (4, 9, 20)),
        ((24, 22, 20), 25, None, (24, 22, 20)),
        ((40, 36), 30, None, (9, 7)),
        ((40, 36), 30, 4, (5, 36)),
    ],
    ids=["3d-26", "3d-6", "3d-one-chunk", "2d-8", "2d-4"],
)
def test_chunked_equals_in_memory(tmp_path, shape, n, connectivity, chunks):
    target = _instances(shape, n, seed=sum(chunks))
    pred = _perturbed(target, seed=2)
    pred_path, label_path = save_nifti(tmp_path / "p.nii.gz", pred), save_nifti(tmp_path / "t.nii.gz", target)
    got = evaluate_case_chunked(pred_path, label_path, connectivity=connectivity, chunks=chunks, progress=False)
    _assert_rows_equal(_as_reference(got, len(shape)), _reference_rows(pred, target, connectivity), cldice=False)
    shape_out, table = betti_table_chunked(label_path, None, connectivity, chunks, progress=False)
    assert shape_out == shape and table == betti_table(target, connectivity=connectivity)


@pytest.mark.parametrize(
    "shape, chunks, connectivity",
    [((24, 22, 20), (5, 6, 7), None), ((24, 22, 20), (4, 4, 4), 6), ((40, 36), (6, 5), None), ((40, 36), (3, 36), 4)],
    ids=["3d-26", "3d-6-small-chunks", "2d-8", "2d-4-slabs"],
)
def test_chunked_with_stray_voxels_equals_in_memory(tmp_path, shape, chunks, connectivity):
    """Pieces on chunk faces (stray voxels, objects across several chunks) are grouped and measured once."""
    target = _instances(shape, 40, seed=11)
    pred = _perturbed(target, seed=12, stray=300)
    pred_path, label_path = save_nifti(tmp_path / "p.nii.gz", pred), save_nifti(tmp_path / "t.nii.gz", target)
    got = evaluate_case_chunked(pred_path, label_path, connectivity=connectivity, chunks=chunks, progress=False)
    _assert_rows_equal(_as_reference(got, len(shape)), _reference_rows(pred, target, connectivity), cldice=False)
    assert betti_table_chunked(pred_path, None, connectivity, chunks, progress=False)[1] == betti_table(
        pred, connectivity=connectivity
    )


def test_chunked_large_objects_chunk_by_chunk_too(tmp_path, monkeypatch):
    """Objects whose box is larger than the in-memory budget are measured chunk by chunk: the same numbers."""
    import monai_topo.evaluation.chunked as chunked_module

    monkeypatch.setattr(chunked_module, "BOX_VOXELS_IN_MEMORY", 64)
    target = _instances((24, 22, 20), 30, seed=4)
    pred = _perturbed(target, seed=5)
    pred_path, label_path = save_nifti(tmp_path / "p.nii.gz", pred), save_nifti(tmp_path / "t.nii.gz", target)
    got = evaluate_case_chunked(pred_path, label_path, chunks=(6, 7, 8), progress=False)
    _assert_rows_equal(_as_reference(got, 3), _reference_rows(pred, target, None), cldice=False)
    assert betti_table_chunked(label_path, None, None, (6, 7, 8), progress=False)[1] == betti_table(target)


def test_chunked_reads_each_chunk_at_most_twice(tmp_path, monkeypatch):
    import monai_topo.io.volumes as volumes_module

    reads: list[tuple] = []
    real = volumes_module._Reader.__getitem__

    def counting(self, index):
        if all(s.stop > s.start for s in index):  # (dask reads an empty corner to learn the dtype)
            reads.append((self.name, index))
        return real(self, index)

    monkeypatch.setattr(volumes_module._Reader, "__getitem__", counting)
    target = _instances((32, 32, 32), 120, seed=6)
    pred = _perturbed(target, seed=7)
    pred_path, label_path = save_nifti(tmp_path / "p.nii.gz", pred), save_nifti(tmp_path / "t.nii.gz", target)
    n_chunks = (32 // 8) ** 3
    evaluate_case_chunked(pred_path, label_path, chunks=8, progress=False)
    assert len(reads) <= 2 * 2 * n_chunks, len(reads)  # two volumes, each chunk at most twice
    reads.clear()
    betti_table_chunked(label_path, None, None, 8, progress=False)
    assert len(reads) <= 2 * n_chunks, len(reads)
