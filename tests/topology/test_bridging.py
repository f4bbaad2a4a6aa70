"""bridge_gaps: hand cases, and random masks against a brute force written plainly here (pairwise voxel distances,
scipy's labelling)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from monai_topo.topology.bridging import bridge_gaps, digital_line


def _components(mask: np.ndarray, face: bool) -> tuple[np.ndarray, int]:
    structure = ndimage.generate_binary_structure(mask.ndim, 1 if face else mask.ndim)
    return ndimage.label(mask, structure=structure)


def _nearest_pieces(labels: np.ndarray, gap: float) -> dict[int, set[int]]:
    """Brute force: for each component, the other components nearest to it (ties: all of them), when at most
    ``gap`` away."""
    points = {k: np.argwhere(labels == k) for k in range(1, labels.max() + 1)}
    nearest = {}
    for k, own in points.items():
        distances = {
            j: np.sqrt(((own[:, None, :] - other[None, :, :]) ** 2).sum(-1)).min()
            for j, other in points.items()
            if j != k
        }
        if distances and min(distances.values()) <= gap:
            best = min(distances.values())
            nearest[k] = {j for j, d in distances.items() if np.isclose(d, best)}
    return nearest


@pytest.mark.parametrize("gap_voxels", [1, 2, 3, 5])
def test_break_along_an_axis(gap_voxels):
    line = np.zeros((3, 20), np.uint8)
    line[1, :6] = 1
    line[1, 6 + gap_voxels :] = 1  # a break of gap_voxels missing voxels: the pieces are gap_voxels + 1 apart
    joined = bridge_gaps(line, max_gap=gap_voxels + 1)
    assert joined[1].all() and int(joined.sum()) == 20 and joined.dtype == line.dtype
    assert np.array_equal(bridge_gaps(line, max_gap=gap_voxels + 0.9), line)  # just too far: unchanged
    assert np.array_equal(line[1, 6 : 6 + gap_voxels], np.zeros(gap_voxels))  # the input is not written


def test_diagonal_gap_both_connectivities():
    volume = np.zeros((12, 12, 12), bool)
    volume[1:4, 1:4, 1:4] = True
    volume[7:10, 7:10, 7:10] = True  # closest voxels (3,3,3) and (7,7,7): sqrt(48) ~ 6.93 apart
    assert np.array_equal(bridge_gaps(volume, 6.9), volume)
    for connectivity, face in ((None, False), (26, False), (6, True)):
        joined = bridge_gaps(volume, 7, connectivity=connectivity)
        assert joined.dtype == bool and _components(joined, face)[1] == 1
        added = int(joined.sum() - volume.sum())
        assert added == (27 if face else 3)  # 3 voxels on the diagonal; face: four 2^3 boxes less 3 shared, 2 ends


def test_other_labels_are_never_crossed_or_changed():
    labels = np.zeros((1, 11), np.int32)
    labels[0, :3] = 1
    labels[0, 8:] = 1
    labels[0, 5] = 2  # another label sits in the gap: no bridge through it
    assert np.array_equal(bridge_gaps(labels, 6), labels)
    labels[0, 5] = 0
    joined = bridge_gaps(labels, 6)
    assert joined[0].tolist() == [1] * 11


def test_each_label_is_bridged_on_its_own():
    labels = np.zeros((6, 14), np.uint16)
    labels[1, :4] = 3
    labels[1, 6:10] = 3
    labels[4, :4] = 7
    labels[4, 6:] = 7
    joined = bridge_gaps(labels, 3)
    assert joined[1, :10].tolist() == [3] * 10 and joined[4].tolist() == [7] * 14
    assert set(np.unique(joined).tolist()) == {0, 3, 7}


def test_nothing_to_do():
    empty = np.zeros((5, 5, 5), np.uint8)
    assert np.array_equal(bridge_gaps(empty, 4), empty)
    one = empty.copy()
    one[1:3, 1:3, 1:3] = 1
    assert np.array_equal(bridge_gaps(one, 4), one)
    assert np.array_equal(bridge_gaps(one, 0), one)


@pytest.mark.parametrize("bad, message", [(-1, "max_gap"), (np.inf, "max_gap"), (np.nan, "max_gap")])
def test_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        bridge_gaps(np.zeros((4, 4), np.uint8), bad)
    with pytest.raises(ValueError, match="2D or 3D"):
        bridge_gaps(np.zeros(4, np.uint8), 2)


def test_digital_line():
    for start, stop in itertools.product([(0, 0, 0), (3, 1, 2)], [(5, 2, 0), (0, 7, 7), (3, 1, 2), (4, 2, 3)]):
        a, b = np.array(start), np.array(stop)
        for face in (False, True):
            line = digital_line(a, b, face)
            as_set = {tuple(v) for v in line.tolist()}
            assert tuple(start) in as_set and tuple(stop) in as_set
            assert as_set == {tuple(v) for v in digital_line(b, a, face).tolist()}  # the same both ways
            mirrored = {tuple(v) for v in (10 - digital_line(10 - a, 10 - b, face)).tolist()}
            assert mirrored == as_set  # and mirrored with the image
            grid = np.zeros((12, 12, 12), bool)
            grid[tuple(line.T)] = True
            assert _components(grid, face)[1] == 1  # connected in the connectivity's sense
            # every voxel lies near the segment (half-way points: sqrt(3)/2; a face step's box: one voxel more)
            direction = (b - a) / max(np.linalg.norm(b - a), 1e-9)
            offsets = line - a
            along = np.clip(offsets @ direction, 0, np.linalg.norm(b - a))
            assert np.linalg.norm(offsets - along[:, None] * direction, axis=1).max() <= (1.9 if face else 0.87)
    assert len(digital_line(np.array([0, 0, 0]), np.array([4, 4, 4]))) == 5  # a diagonal: one voxel per step


@pytest.mark.parametrize("seed", range(12))
def test_flipped_or_transposed_input_gives_the_same_bridges(seed):
    rng = np.random.default_rng(100 + seed)
    ndim = 2 if seed % 2 else 3
    shape = (16, 13) if ndim == 2 else (9, 11, 10)
    mask = (rng.random(shape) < 0.08).astype(np.uint8)
    mask[rng.random(shape) < 0.02] = 2  # a second label in the way
    connectivity = None if seed % 3 else (4 if ndim == 2 else 6)
    joined = bridge_gaps(mask, 3.5, connectivity)
    assert not np.array_equal(joined, mask) or seed > 100  # something to compare (checked: every seed bridges)
    for axis in range(ndim):
        flipped = bridge_gaps(np.flip(mask, axis), 3.5, connectivity)
        assert np.array_equal(np.flip(flipped, axis), joined)
    order = tuple(reversed(range(ndim)))
    assert np.array_equal(bridge_gaps(mask.transpose(order), 3.5, connectivity).transpose(order), joined)


@pytest.mark.parametrize("seed", range(24))
def test_random_masks_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    ndim = 2 if seed % 2 else 3
    shape = (18, 18) if ndim == 2 else (10, 10, 10)
    mask = rng.random(shape) < (0.06 if ndim == 3 else 0.1)
    gap = float(rng.choice([1.5, 2, 3, 4.5]))
    face = seed % 3 == 0
    connectivity = (4 if ndim == 2 else 6) if face else None
    joined = bridge_gaps(mask, gap, connectivity=connectivity)
    assert (joined | mask).sum() == joined.sum()  # nothing removed
    labels, _ = _components(mask, face)
    out_labels, _ = _components(joined, face)
    nearest = _nearest_pieces(labels, gap)
    for k, partners in nearest.items():  # every piece is joined to one of its nearest other pieces within the gap
        joined_to = {int(out_labels[labels == j][0]) for j in partners}
        assert int(out_labels[labels == k][0]) in joined_to, (k, partners)
    # lines only: without a piece in reach nothing is added, and every added voxel lies near the segment between
    # two voxels of the mask at most ``gap`` apart
    added = np.argwhere(joined & ~mask)
    if not nearest:
        assert len(added) == 0
    if len(added):
        distance = ndimage.distance_transform_edt(~mask)
        assert distance[tuple(added.T)].max() <= gap / 2 + 1.5


def _plain_line(a: np.ndarray, b: np.ndarray, face: bool) -> set[tuple[int, ...]]:
    """digital_line's rule written plainly with exact fractions."""
    from fractions import Fraction

    n = int(np.abs(b - a).max())
    if n == 0:
        return {tuple(int(x) for x in a)}
    per_step = []
    for k in range(n + 1):
        choices = []
        for x, y in zip(a.tolist(), b.tolist()):
            point = Fraction(x) + Fraction((y - x) * k, n)
            low = point.numerator // point.denominator
            rest = point - low
            choices.append([low, low + 1] if rest == Fraction(1, 2) else [low + 1 if rest > Fraction(1, 2) else low])
        per_step.append(choices)
    voxels = set()
    if not face:
        for choices in per_step:
            voxels |= set(itertools.product(*choices))
        return voxels
    for this, following in zip(per_step, per_step[1:]):
        ranges = [range(min(p + q), max(p + q) + 1) for p, q in zip(this, following)]
        voxels |= set(itertools.product(*ranges))
    return voxels


def _plain_bridges(labels: np.ndarray, gap: float, face: bool) -> np.ndarray:
    """bridge_gaps's rule written plainly: pairwise distances of all voxels, label by label, piece by piece."""
    out = labels.copy()
    for value in sorted(set(np.unique(labels).tolist()) - {0}):
        pieces, count = _components(labels == value, face)
        points = {k: np.argwhere(pieces == k) for k in range(1, count + 1)}
        for k, own in points.items():
            pairs = []
            for j, other in points.items():
                if j != k:
                    d2 = ((own[:, None, :] - other[None, :, :]) ** 2).sum(-1)
                    pairs += [(own[p], other[q], d2[p, q]) for p, q in zip(*np.nonzero(d2 == d2.min()))]
            if not pairs:
                continue
            best = min(p[2] for p in pairs)
            if best > gap * gap:
                continue
            for start, stop, d2 in pairs:
                if d2 != best:
                    continue
                line = _plain_line(start, stop, face)
                if all(labels[v] in (0, value) for v in line):
                    for v in line:
                        if out[v] == 0:
                            out[v] = value
    return out


@pytest.mark.parametrize("seed", range(30))
def test_exact_against_the_rule_written_plainly(seed):
    rng = np.random.default_rng(1000 + seed)
    ndim = 2 if seed % 2 else 3
    shape = tuple(rng.integers(5, 15 if ndim == 2 else 9, size=ndim))
    labels = (rng.random(shape) < 0.1).astype(np.uint8)
    if seed % 4 == 0:
        labels[rng.random(shape) < 0.05] = 2  # a second label: bridged on its own, never crossed
    face = seed % 3 == 0
    gap = float(rng.choice([1.5, 2.0, 2.9, 4.0]))
    connectivity = (4 if ndim == 2 else 6) if face else None
    assert np.array_equal(bridge_gaps(labels, gap, connectivity), _plain_bridges(labels, gap, face))


def test_digital_line_against_the_rule_written_plainly():
    rng = np.random.default_rng(7)
    for _ in range(200):
        ndim = int(rng.integers(2, 4))
        a, b = rng.integers(0, 9, size=(2, ndim))
        for face in (False, True):
            assert {tuple(v) for v in digital_line(a, b, face).tolist()} == _plain_line(a, b, face)


@pytest.mark.parametrize("seed", range(16))
def test_exact_on_solid_pieces(seed):
    """Thick pieces (interior voxels, long flat faces with many tied closest pairs) against the plain rule."""
    rng = np.random.default_rng(2000 + seed)
    ndim = 2 if seed % 2 else 3
    shape = (24, 20) if ndim == 2 else (12, 11, 10)
    seeds = rng.random(shape) < (0.02 if ndim == 2 else 0.012)
    labels = ndimage.binary_dilation(seeds, iterations=int(rng.integers(1, 3))).astype(np.uint8)
    labels[tuple(slice(None) if a else slice(s // 2, s // 2 + int(rng.integers(1, 4))) for a, s in
                 zip(rng.random(ndim) < 0.5, shape))] = 0  # cut: flat faces facing each other  # fmt: skip
    face = seed % 4 == 1
    gap = float(rng.choice([2.0, 3.0, 4.5]))
    connectivity = (4 if ndim == 2 else 6) if face else None
    assert np.array_equal(bridge_gaps(labels, gap, connectivity), _plain_bridges(labels, gap, face))


def test_facing_faces_are_joined_whole_even_when_the_neighbour_is_nearer_to_another():
    volume = np.zeros((13, 5, 5), np.uint8)
    volume[0:3, 1:4, 1:4] = 1  # A
    volume[5:8, 1:4, 1:4] = 1  # B: 3 from A
    volume[10:13, 1:4, 1:4] = 1  # C: 3 from B; A's nearest is B, B's nearest are A and C
    joined = bridge_gaps(volume, 3)
    assert joined[3:5, 1:4, 1:4].all() and joined[8:10, 1:4, 1:4].all()  # whole 3 x 3 cross-sections
    assert int(joined.sum() - volume.sum()) == 36
    volume[10:13] = 0
    volume[9:12, 1:4, 1:4] = 1  # C now 2 from B: B joins C only, A still joins B with its whole face
    joined = bridge_gaps(volume, 3)
    assert joined[3:5, 1:4, 1:4].all() and joined[8, 1:4, 1:4].all()
    assert np.array_equal(joined, _plain_bridges(volume, 3, False))
