"""Betti matching of binary 2D/3D masks (Stucki et al., ICML 2023): exact, equal to Betti-Matching-3D, in O(n).

Betti matching pairs the persistence features of a prediction and a target through the comparison image (the
pointwise minimum of the two sublevel functions) by induced matchings, and counts what stays unmatched. The
reference implementation, Betti-Matching-3D (Stucki et al., "Efficient Betti matching enables topology-aware 3D
segmentation via persistent homology", 2024), computes the sublevel filtration of the V-construction (a voxel is a
vertex) of ``1 - mask``. For binary inputs every bar is ``[0, 1)``, so *which* bars are matched is decided only by
the order in which the reference adds cells of equal value: by their index ``(x, y, z, type)``. This module
reproduces that order exactly, without building the filtration:

- **dimension 0** (components): the reference runs union-find over the edges of value 1 in index order. All of
  them are processed, so each step joins one component to the growing component of the first voxel. A component
  joins at its first edge to an earlier voxel outside it, its pair dies there, and the comparison's pair is matched
  when both sides of the join contain voxels of both inputs. Closed forms over connected-component labels.
- **top dimension** (holes in 2D, cavities in 3D): union-find on the dual graph in reverse index order; the same
  argument makes every step a join to the outside, so a cavity of the comparison is matched when it holds the
  last voxel (in index order) of the cavities of both inputs that contain it.
- **dimension 1 in 3D** (tunnels): the reference reduces the squares' boundaries, squares in index order. For
  binary inputs a tunnel dies at a square ``s`` exactly when the edges that enter with ``s`` (an edge enters with
  the first square that contains it) close a cycle among the edges of the mask that entered before, and the dual
  edge of ``s`` closes a cycle among the squares of value 1 after it (the complement's dual graph, in reverse
  order); a tunnel is born at an edge (index order) that closes a cycle and whose last completed square closes a
  dual cycle in the same sense. Each is a union-find over the surface of the mask: every vertex's earliest edge is
  a tree edge (a Boruvka step), those chain along the x axis, and a Kruskal decides the rest. Births and deaths are
  paired, and the comparison's deaths matched to the inputs' births (the image of each input in the comparison),
  by linking numbers (mod 2) between loops of the inputs and dual loops of the comparison (Seifert surfaces swept
  along ``-y``); a tunnel of the comparison is matched where the images of both inputs die.

The cost is a few dozen passes over the voxels, sorting of arrays the size of the masks' surface, and linking
matrices of ``t x t`` bits for ``t`` tunnels (by running XORs along grid lines, or, where cheaper, by enumerating
the crossings that do not cancel in pairs). For segmentations ``t`` is small; masks of pure noise have thousands of
tunnels with long loops, and there the linking grows faster than the volume (on par with the reference at 48^3).

The 26/8-connected foreground (T-construction, the package default) is the Alexander dual of the zero-padded
mask's background: the reference applied to the padded masks themselves, with dimensions reversed. Finite pairs
only, as the reference: dimension 0 counts ``b0 - 1`` features of the 6/4-connected foreground, but all ``b0`` of
the 26/8-connected one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from monai_topo.topology.components import label_components
from monai_topo.topology.connectivity import Connectivity, foreground_connectivity, resolve_connectivity
from monai_topo.topology.validation import check_binary_mask

__all__ = ["BettiMatching", "betti_matching", "betti_matching_error"]

_BIG = np.iinfo(np.int64).max


# ----------------------------------------------------------------------------------------------------------------
# small array helpers


def _clear(mask: np.ndarray, where: np.ndarray) -> None:
    """``mask &= ~where`` in place, without a temporary (boolean arrays)."""
    np.greater(mask, where, out=mask)


def _unravel(flat: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat C-order indices as an ``(k, ndim)`` int64 coordinate array."""
    if len(flat) == 0:
        return np.zeros((0, len(shape)), np.int64)
    return np.stack(np.unravel_index(np.asarray(flat, np.int64), shape), axis=1).astype(np.int64)


def _first_per_label(labels: np.ndarray, values: np.ndarray, n: int, last: bool = False) -> np.ndarray:
    """``out[l]`` = the smallest (``last``: the largest) of ``values`` whose label is ``l``; BIG (-1) for none."""
    out = np.full(n + 1, -1 if last else _BIG, np.int64)
    if len(labels):
        (np.maximum if last else np.minimum).at(out, labels, values)
    return out


def _unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (by sorting; numpy's hashing unique is slower on these arrays)."""
    a = np.sort(np.asarray(a, np.int64))
    if len(a) < 2:
        return a
    return a[np.r_[True, a[1:] != a[:-1]]]


def _member(a: np.ndarray, sorted_b: np.ndarray) -> np.ndarray:
    """``a[i] in sorted_b`` for each ``i`` (``sorted_b`` sorted)."""
    a = np.asarray(a, np.int64)
    if len(sorted_b) == 0:
        return np.zeros(len(a), bool)
    pos = np.minimum(np.searchsorted(sorted_b, a), len(sorted_b) - 1)
    return sorted_b[pos] == a


def _ranks(primary: np.ndarray, secondary: np.ndarray | None = None) -> np.ndarray:
    """Ranks (0, 1, ...) of distinct keys, ordered by ``primary`` then ``secondary``."""
    order = np.argsort(primary, kind="stable") if secondary is None else np.lexsort((secondary, primary))
    out = np.empty(len(order), np.int64)
    out[order] = np.arange(len(order))
    return out


def _kruskal_nontree(fu: np.ndarray, fv: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Kruskal by increasing (distinct) ``weight`` on a multigraph with node ids ``fu``/``fv``: True for edges that
    close a cycle (not in the minimum spanning forest)."""
    k = len(fu)
    nontree = np.zeros(k, bool)
    if k == 0:
        return nontree
    nontree[fu == fv] = True
    idx = np.flatnonzero(fu != fv)
    if len(idx) == 0:
        return nontree
    a, b = np.minimum(fu[idx], fv[idx]), np.maximum(fu[idx], fv[idx])
    w = weight[idx]
    top = int(b.max()) + 1
    w_lo, w_span = int(w.min()), int(w.max()) - int(w.min()) + 1
    if top * top * w_span < 1 << 62:  # one key: pair, then weight
        order = np.argsort((a * top + b) * w_span + (w - w_lo))
    else:
        order = np.lexsort((w, b, a))
    a, b, idx = a[order], b[order], idx[order]
    first = np.ones(len(idx), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    nontree[idx[~first]] = True  # a parallel edge after the lightest one closes a cycle
    keep, a, b = idx[first], a[first], b[first]
    both = np.concatenate([a, b])
    nodes = _unique(both)
    inv = np.searchsorted(nodes, both)
    by_weight = np.argsort(weight[keep], kind="stable")
    rank = np.empty(len(keep), np.float64)
    rank[by_weight] = np.arange(1, len(keep) + 1)
    n = len(nodes)
    tree = minimum_spanning_tree(csr_matrix((rank, (inv[: len(keep)], inv[len(keep) :])), shape=(n, n))).tocoo()
    intree = np.zeros(len(keep), bool)
    intree[by_weight[np.rint(tree.data).astype(np.int64) - 1]] = True
    nontree[keep[~intree]] = True
    return nontree


# ----------------------------------------------------------------------------------------------------------------
# dimension 0 and the top dimension: closed forms over connected-component labels


@dataclass(frozen=True)
class _Pairs:
    """Finite pairs of one input in one dimension of the reference: an id per pair, birth and death voxels (flat)."""

    key: np.ndarray
    birth: np.ndarray
    death: np.ndarray

    @staticmethod
    def empty() -> _Pairs:
        z = np.zeros(0, np.int64)
        return _Pairs(z, z, z)


def _first_voxels(lab: np.ndarray, n: int) -> np.ndarray:
    """``out[l]``: the first voxel (flat, index order) of label ``l`` (1..n) of a label array.

    cc3d numbers components in the order of their first voxel; then the first voxels are where the running maximum
    of the labels grows (by one each time). Found row by row: the rows (along the last axis) where the running
    maximum grows, and in those the positions. Checked, with a slower fallback.
    """
    out = np.full(n + 1, _BIG, np.int64)
    if n == 0:
        return out
    flat = lab.ravel()
    width = lab.shape[-1]
    rows = flat.reshape(-1, width)
    run = np.maximum.accumulate(rows.max(axis=1).astype(np.int64))
    before = np.r_[0, run[:-1]]
    new = np.flatnonzero(run > before)
    sub = np.maximum.accumulate(np.ascontiguousarray(rows[new].T).astype(np.int64), axis=0)  # (width, rows)
    np.maximum(sub, before[new], out=sub)
    grows = np.empty(sub.shape, bool)
    np.greater(sub[0], before[new], out=grows[0])
    np.greater(sub[1:], sub[:-1], out=grows[1:])
    row, col = np.nonzero(grows.T)  # in index order
    first = new[row] * width + col
    if len(first) == n and np.array_equal(flat[first], np.arange(1, n + 1)):
        out[1:] = first
    else:  # not numbered in order of appearance
        idx = np.flatnonzero(flat)
        np.minimum.at(out, flat[idx], idx)
    return out


def _dim0_sweep(A: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
    """Components of ``A`` (face-connected), each one's first voxel ``r`` and join time ``T``, sorted by ``T``.

    The reference adds the edges of value 1 in index order ``(voxel, axis)``; the component of the first voxel
    grows by one join at a time, and a component joins at its first edge from an earlier voxel outside it:
    ``T = ndim * flat(w - e_axis) + axis``, minimised over its voxels ``w`` (``-1`` for the first voxel's
    component). For a component whose first voxel ``r`` has ``x >= 1`` that is the edge from ``r - e_x`` (no
    earlier edge reaches the component); the others start in the plane ``x = 0`` and join through the planes
    ``x = 0`` or ``x = 1``.
    """
    d, shape = A.ndim, A.shape
    lab, n = label_components(A, 6 if d == 3 else 4)
    flat = lab.ravel()
    r = _first_voxels(lab, n)
    strides = np.cumprod((1,) + shape[:0:-1])[::-1].astype(np.int64)
    T = np.full(n + 1, _BIG, np.int64)
    later = (r >= strides[0]) & (r < _BIG)
    T[later] = d * (r[later] - strides[0])
    if shape[0] > 0:  # components starting in the plane x = 0: their joins lie in the planes x = 0 and 1
        head = min(2, shape[0])
        sub_a, sub_lab = A[:head], lab[:head]
        sub_flat = sub_lab.ravel()
        for t in range(d):
            if sub_a.shape[t] < 2:
                continue
            hi = [slice(None)] * d
            lo = [slice(None)] * d
            hi[t], lo[t] = slice(1, None), slice(None, -1)
            m = np.zeros(sub_a.shape, bool)
            m[tuple(hi)] = sub_a[tuple(hi)] & ~sub_a[tuple(lo)]
            w = np.flatnonzero(m)  # (the first planes keep the grid's flat indices)
            labels = sub_flat[w]
            first_plane = ~later[labels]
            np.minimum.at(T, labels[first_plane], d * (w[first_plane] - strides[t]) + t)
    if n and flat[0]:
        T[flat[0]] = -1
    order = np.argsort(T[1:], kind="stable") + 1
    return lab, n, r, T, order


def _dim0_pairs(sweep: tuple) -> _Pairs:
    lab, n, r, T, order = sweep
    if n < 2:
        return _Pairs.empty()
    d = lab.ndim
    rr = r[order]
    keys = np.maximum(rr[1:], np.minimum.accumulate(rr)[:-1])
    return _Pairs(keys, keys, T[order[1:]] // d)


def _dim0_matches(sweep0: tuple, sweep1: tuple, sweep_u: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Keys of the matched pairs of both inputs in dimension 0 (the comparison's joins where both sides hold both).

    An input's first voxel in a component of the comparison is the first of its own components' first voxels
    there (its components lie inside the comparison's)."""
    lab, n, _, _, order = sweep_u
    if n < 2:
        z = np.zeros(0, np.int64)
        return z, z
    flat = lab.ravel()
    sides = []
    for _, n_a, r_a, _, _ in (sweep0, sweep1):
        firsts = r_a[1 : n_a + 1]
        mk = _first_per_label(flat[firsts].astype(np.int64), firsts, n)[order]
        sides.append((np.minimum.accumulate(mk)[:-1], mk[1:]))
    (b0, v0), (b1, v1) = sides
    ok = (b0 < _BIG) & (v0 < _BIG) & (b1 < _BIG) & (v1 < _BIG)
    return np.maximum(b0, v0)[ok], np.maximum(b1, v1)[ok]


def _top_sweep(A: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Enclosed background components of ``A`` (holes in 2D, cavities in 3D; full connectivity) and the last voxel
    (flat, index order) of each: the reference's dual union-find kills a cavity at its last cube."""
    d = A.ndim
    # labelled back to front: the first voxel of a label in the reversed grid is its last voxel
    reversed_bg = np.ascontiguousarray(~A[(slice(None, None, -1),) * d])
    lab, n = label_components(reversed_bg, 26 if d == 3 else 8)
    cavity = np.ones(n + 1, bool)
    cavity[0] = False
    for axis in range(d):
        for side in (0, -1):
            cavity[np.take(lab, side, axis=axis).ravel()] = False
    flat = lab.ravel()
    last = len(flat) - 1 - _first_voxels(lab, n)
    last[0] = -1
    return flat, n, cavity, last


def _top_pairs(sweep: tuple, shape: tuple[int, ...]) -> _Pairs:
    """The cavities' pairs. A cavity joins the outside at the last face (index order) with one side in it: the face
    ``+x`` of its last cube, whose lower corner is the cavity's last voxel ``v``; the reference draws that face of
    value 0 at its vertex ``v + (1, ..., 1)``, and the pair's death at ``v``."""
    _, _, cavity, last = sweep
    labels = np.flatnonzero(cavity).astype(np.int64)
    if len(labels) == 0:
        return _Pairs.empty()
    strides_sum = int(np.cumprod((1,) + shape[:0:-1]).sum())
    return _Pairs(labels, last[labels] + strides_sum, last[labels])


def _top_matches(sweep0: tuple, sweep1: tuple, sweep_u: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the matched cavities of both inputs: a cavity of the comparison is matched when it holds the last
    voxel of the comparison's cavities inside the input's cavity, in both inputs."""
    _, _, cavity_u, last_u = sweep_u
    keys = last_u[np.flatnonzero(cavity_u)]
    owners, ok = [], np.ones(len(keys), bool)
    for flat, n, cavity, _ in (sweep0, sweep1):
        owner = flat[len(flat) - 1 - keys].astype(np.int64)  # (labels of the reversed grid)
        inside = cavity[owner]
        best = np.full(n + 1, -1, np.int64)
        np.maximum.at(best, owner[inside], keys[inside])
        ok &= inside & (best[owner] == keys)
        owners.append(owner)
    return owners[0][ok], owners[1][ok]


# ----------------------------------------------------------------------------------------------------------------
# dimension 1 of 3D masks: the sweeps
#
# Cells are named by the reference's index: an edge (p, t) joins vertex p (a voxel) to p + e_t; a square (p, s) has
# the normal axis s and spans the two other axes from its lowest vertex p. Keys: flat(p) * 3 + t (edges, squares).


def _entry_keys(x: np.ndarray, y: np.ndarray, z: np.ndarray, t: int, shape: tuple[int, ...]) -> np.ndarray:
    """Key of the first square (index order) that contains the edge ``(p, t)``; BIG where no square does.

    The comparison fills tunnels with its squares of value 1 in index order; an edge of the mask "enters" that
    sweep with its first square, so the swept part of the mask is the graph of its entered edges.
    """
    n = shape
    c = (x, y, z)
    stride = (n[1] * n[2], n[2], 1)
    flat = (x * n[1] + y) * n[2] + z
    b1, b2 = [b for b in range(3) if b != t]
    s1, s2 = 3 - t - b1, 3 - t - b2  # s2 < s1
    if n[b2] > 1:
        out = flat * 3 + s2
    elif n[b1] > 1:
        out = flat * 3 + s1
    else:
        out = np.full(np.shape(x), _BIG, np.int64)
    out = np.where(c[b2] >= 1, (flat - stride[b2]) * 3 + s2, out)
    return np.where(c[b1] >= 1, (flat - stride[b1]) * 3 + s1, out)


def _squares_in(E: list[np.ndarray]) -> list[np.ndarray]:
    """``SQ[s][p]``: the square ``(p, s)`` exists and its four vertices lie in the mask (its two edges along the
    first of the other axes, ``E``: :func:`_edge_grids`, do)."""
    out = []
    shape = E[0].shape
    for s in range(3):
        a, b = [ax for ax in range(3) if ax != s]
        m = np.zeros(shape, bool)
        if shape[a] > 1 and shape[b] > 1:
            lo = tuple(slice(None, -1) if ax == b else slice(None) for ax in range(3))
            hi = tuple(slice(1, None) if ax == b else slice(None) for ax in range(3))
            np.logical_and(E[a][lo], E[a][hi], out=m[lo])
        out.append(m)
    return out


# the six edges at a vertex: (axis, sign): backward edges end at the vertex, forward edges start there
_DIRS = ((0, -1), (1, -1), (2, -1), (0, 1), (1, 1), (2, 1))
_NO_LINK = 255


def _vertex_priorities(shape: tuple[int, ...]) -> dict[tuple[bool, bool, bool], list[int]]:
    """For each class of vertex (which coordinates are 0), its six edges in the sweep's order (entry, then key).

    The order of two edges at a vertex depends only on which of its coordinates are 0 and on which axes are thin
    (length 1), so it is worked out once per class on a virtual grid.
    """
    virtual = tuple(1 if k == 1 else 7 for k in shape)
    out = {}
    for zero in np.ndindex(2, 2, 2):
        if any(not z and shape[a] == 1 for a, z in enumerate(zero)):
            continue  # a thin axis has only coordinate 0
        w = np.array([0 if zero[a] else 3 for a in range(3)], np.int64)
        order = []
        for code, (axis, sign) in enumerate(_DIRS):
            p = w.copy()
            if sign < 0:
                p[axis] -= 1
            if p[axis] < 0 or p[axis] + 1 >= virtual[axis]:
                continue
            ent = int(_entry_keys(p[:1], p[1:2], p[2:3], axis, virtual)[0])
            if ent == _BIG:
                continue
            key = int(((p[0] * virtual[1] + p[1]) * virtual[2] + p[2]) * 3 + axis)
            order.append((ent, key, code))
        out[tuple(bool(z) for z in zero)] = [code for _, _, code in sorted(order)]
    return out


def _edge_grids(X: np.ndarray) -> list[np.ndarray]:
    """``E[t][p]``: the edge ``(p, t)`` joins two voxels of ``X``."""
    out = []
    for t in range(3):
        e = np.zeros(X.shape, bool)
        lo = tuple(slice(None, -1) if a == t else slice(None) for a in range(3))
        hi = tuple(slice(1, None) if a == t else slice(None) for a in range(3))
        np.logical_and(X[lo], X[hi], out=e[lo])
        out.append(e)
    return out


def _first_choice(orders: dict[int, list[int]], classes: int) -> np.ndarray:
    """A table from ``class * 64 + bits`` (bit ``c``: item ``c`` of six is present) to the first present item in the
    class's order; -1 where none is."""
    table = np.full(classes * 64, -1, np.int64)
    for cls, order in orders.items():
        for bits in range(64):
            table[cls * 64 + bits] = next((c for c in order if bits >> c & 1), -1)
    return table


def _roots(parent: np.ndarray) -> tuple[int, np.ndarray]:
    """Trees given by parent pointers (a root points to itself): their number, and each node's tree id (0, 1, ...,
    numbered by root), by pointer jumping."""
    parent = np.asarray(parent, np.int64)
    nodes = np.arange(len(parent))
    root = parent.copy()
    while True:
        up = root[root]
        if np.array_equal(up, root):
            break
        root = up
    is_root = parent == nodes
    ids = np.cumsum(is_root) - 1
    return int(is_root.sum()), ids[root]


def _along(axis: int, part: slice) -> tuple[slice, ...]:
    return tuple(part if a == axis else slice(None) for a in range(3))


class _Cells:
    """A mask with its edge and square grids, and what both sweeps of each kind share (computed once)."""

    def __init__(self, X: np.ndarray):
        self.X = X
        self.E = _edge_grids(X)
        self.SQ = _squares_in(self.E)
        self._primal = None
        self._dual = None
        self._candidates = None

    def primal_base(self) -> tuple[np.ndarray, ...]:
        """The starts of the x runs of ``X`` (the primal specials: every other vertex links -x): their flat
        indices, which of their six edges are present and their class (coordinates 0) as bits (see
        :func:`_first_choice`), the map of specials (1 + position in the starts, 0 elsewhere) and of the last special
        at or before each vertex on its line (the same numbering)."""
        if self._primal is None:
            X, E = self.X, self.E
            shape, N = X.shape, X.size
            n0, n1, n2 = shape
            starts = X.copy()
            _clear(starts[1:], E[0][:-1])
            Q = np.flatnonzero(starts)
            del starts
            Ef = [e.ravel() for e in E]
            stride = (n1 * n2, n2, 1)
            x, y, z = Q // stride[0], (Q // stride[1]) % n1, Q % n2
            coords = (x, y, z)
            # which of the six edges are present (bit ``code``), with the class (coordinates 0) in bits 6-8
            present = ((x == 0) * 256 + (y == 0) * 128 + (z == 0) * 64).astype(np.int16)
            for code, (axis, sign) in enumerate(_DIRS):
                if sign > 0:
                    present |= Ef[axis][Q].astype(np.int16) << code
                elif code != 0:  # (a start has no -x edge)
                    ok = np.flatnonzero(coords[axis] >= 1)
                    present[ok] |= Ef[axis][Q[ok] - stride[axis]].astype(np.int16) << code
            sid = np.zeros(N, np.int32 if len(Q) < 2**31 - 1 else np.int64)  # 1 + position in Q, 0 elsewhere
            sid[Q] = np.arange(1, len(Q) + 1)
            head = _running_along_x(sid.reshape(shape).copy(), reverse=False).ravel()
            self._primal = Q, present, sid, head
        return self._primal

    def dual_candidates(self, mode: str, sides) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The keys of the squares of :func:`_dual_candidates` and their two sides (``sides``: a dual sweep's); on
        a grid thick in y and z both modes share all but the squares along the x axis (computed once)."""
        if min(self.X.shape[1:]) < 2:
            keys = _dual_candidates(self.X, self.E, self.SQ, mode)
            return (keys, *sides(keys))
        if self._candidates is None:
            keys = _dual_candidates(self.X, self.E, self.SQ, None)
            self._candidates = (keys, *sides(keys))
        keys, c1, c2 = self._candidates
        keep = _axis_candidates(keys, self.E, mode)
        return keys[keep], c1[keep], c2[keep]

    def dual_base(self) -> tuple[np.ndarray, ...]:
        """The cubes whose +x face is a square of ``X`` and another face is not (the dual specials: every other
        cube links +x), which of their faces are free (+x, +y, +z, -z, -y, -x) as bits, the map of specials (1 +
        position, the outside last, 0 elsewhere) and of the first special at or after each cube on its line (the
        outside where none is), both with the outside as node ``M``."""
        if self._dual is None:
            SQ, shape = self.SQ, self.X.shape
            m = tuple(k - 1 for k in shape)
            if min(m) <= 0:
                z = np.zeros(0, np.int64)
                self._dual = z, np.zeros(0, np.int16), np.ones(1, np.int64), np.ones(1, np.int64)
                return self._dual
            walls = (  # the six faces of each cube, latest first: +x, +y, +z, -z, -y, -x
                SQ[0][1:, : m[1], : m[2]],
                SQ[1][: m[0], 1:, : m[2]],
                SQ[2][: m[0], : m[1], 1:],
                SQ[2][: m[0], : m[1], : m[2]],
                SQ[1][: m[0], : m[1], : m[2]],
                SQ[0][: m[0], : m[1], : m[2]],
            )
            closed = walls[1] & walls[2]
            for w in walls[3:]:
                closed &= w
            cubes = np.flatnonzero(walls[0] & ~closed)  # +x face a wall, another face free
            del closed
            free = np.zeros(len(cubes), np.int16)  # bit k: face k is free
            for k, w in enumerate(walls):
                free |= (~w.ravel()[cubes]).astype(np.int16) << k
            M = m[0] * m[1] * m[2]
            sid = np.zeros(M + 1, np.int32 if len(cubes) < 2**31 - 2 else np.int64)  # the outside (M) last in S
            sid[cubes] = np.arange(1, len(cubes) + 1)
            sid[M] = len(cubes) + 1
            head = np.where(sid == 0, len(cubes) + 1, sid)
            _running_along_x(head[:M].reshape(m), reverse=True)
            self._dual = cubes, free, sid, head
        return self._dual


def _running_along_x(grid: np.ndarray, reverse: bool) -> np.ndarray:
    """Running maximum along axis 0 (``reverse``: running minimum from the end), slice by slice (contiguous), in
    place."""
    if reverse:
        for x in range(grid.shape[0] - 2, -1, -1):
            np.minimum(grid[x + 1], grid[x], out=grid[x])
    else:
        for x in range(1, grid.shape[0]):
            np.maximum(grid[x - 1], grid[x], out=grid[x])
    return grid


class _PrimalSweep:
    """Union-find over the edges of ``X``, in the order of their entry (``deaths``) or of their index (``births``).

    ``deaths``: an edge enters the comparison's sweep with its first square, and the tunnels that the sweep of the
    squares of value 1 kills are decided by the swept part of the mask. ``births``: the reference adds the cells of
    value 0 in index order, so a tunnel is born at an edge in index order.

    Every vertex's earliest edge is a tree edge (Boruvka). For a vertex whose ``-x`` neighbour is in ``X`` that edge
    is the ``-x`` edge, in both orders, so these links chain along ``-x`` inside the mask and the trees they form
    ("fragments") are found from the other vertices, the starts of the x runs of ``X`` ("specials"; a link chosen by
    both of its ends is rooted at its earlier end, a start). The edges that can merge or close cycles are then y-
    and z-edges that are not links: in ``deaths`` those entering with a square not in ``X`` (an edge entering with
    a square of ``X`` closes that square's boundary), in ``births`` those that are not the last edge of a square of
    ``X``. A Kruskal over fragments decides them. ``closing``: the squares (``deaths``) or edges (``births``) that
    close a cycle.
    """

    def __init__(self, cells: _Cells, mode: str = "deaths"):
        X, E, SQ = cells.X, cells.E, cells.SQ
        shape = X.shape
        self.shape, self.mode = shape, mode
        _, n1, n2 = shape
        self.stride = np.array([n1 * n2, n2, 1], np.int64)
        # the starts of the x runs (no -x edge) are the specials; their links in this sweep's order
        S, present, self.sid, self.head = cells.primal_base()
        if mode == "deaths":
            priorities = _vertex_priorities(shape)
        else:  # index order: the three edges ending at the vertex, then the three starting there
            priorities = {
                tuple(bool(v) for v in z): [c for c in range(6) if not (c < 3 and z[c])] for z in np.ndindex(2, 2, 2)
            }
        table = _first_choice(
            {4 * zero[0] + 2 * zero[1] + zero[2]: order for zero, order in priorities.items()}, classes=8
        )
        codes = table[present]
        isolated = codes < 0
        codes = np.where(isolated, 0, codes)
        self.S = S
        axes = codes % 3
        nb = S + np.where(codes < 3, -1, 1) * self.stride[axes]
        nb = np.where(isolated, S, nb)
        pos, special = self._special(nb)
        nb_code = np.where(special, codes[pos], 0)  # a vertex that is not special links -x
        # a link chosen by both of its ends: the earlier end is the root (a start, as the other one links -x)
        root = isolated | ((nb_code == (codes + 3) % 6) & (S < nb))
        self.root_S = root
        self.S_parent = np.where(root, S, nb)
        self.S_link = np.where(root, -1, np.where(codes < 3, nb, S) * 3 + axes)
        self.nfrag, self.frag_S = _roots(self.head_index(self.S_parent))
        if mode == "deaths":
            self._death_candidates(X, E, SQ)
        else:
            self._birth_candidates(X, E, SQ)

    def _drop_links(self, cand: np.ndarray, t: int) -> None:
        """Clear the links among the edges of type ``t`` marked in ``cand`` (only specials link other than -x)."""
        link = self.S_link[self.S_link % 3 == t]  # (roots have -1: type 2 in Python's modulo, but -1 // 3 < 0)
        cand.ravel()[link[link >= 0] // 3] = False

    def _death_candidates(self, X: np.ndarray, E: list, SQ: list) -> None:
        """Non-link y- and z-edges of X entering with a square not in X; Kruskal by (entry, key). (Every x-edge is
        the -x link of its upper end.)"""
        shape = X.shape
        _, n1, n2 = shape
        cu, ct = [], []
        for t in (1, 2):
            b1, b2 = [b for b in range(3) if b != t]
            s1, s2 = 3 - t - b1, 3 - t - b2
            cand = E[t].copy()
            # not entering with a square of X; entry: (p - e_b1, s1) if p_b1 >= 1, else (p - e_b2, s2) if
            # p_b2 >= 1, else (p, s2) or (p, s1)
            r1 = _along(b1, slice(1, None))
            _clear(cand[r1], SQ[s1][_along(b1, slice(0, -1))])
            r2 = tuple(slice(0, 1) if a == b1 else (slice(1, None) if a == b2 else slice(None)) for a in range(3))
            r2s = tuple(slice(0, 1) if a == b1 else (slice(0, -1) if a == b2 else slice(None)) for a in range(3))
            _clear(cand[r2], SQ[s2][r2s])
            r3 = tuple(slice(0, 1) if a in (b1, b2) else slice(None) for a in range(3))
            if shape[b2] > 1:
                _clear(cand[r3], SQ[s2][r3])
            elif shape[b1] > 1:
                _clear(cand[r3], SQ[s1][r3])
            else:
                cand[r3] = False  # the edge lies in no square (the grid is a line)
            self._drop_links(cand, t)
            p = np.flatnonzero(cand)
            cu.append(p)
            ct.append(np.full(len(p), t, np.int64))
        cu, ct = np.concatenate(cu), np.concatenate(ct)
        x, rem = np.divmod(cu, n1 * n2)
        y, z = np.divmod(rem, n2)
        ent = np.empty(len(cu), np.int64)
        for t in (1, 2):
            sel = ct == t
            ent[sel] = _entry_keys(x[sel], y[sel], z[sel], t, shape)
        cv = cu + self.stride[ct]
        self.cand_u, self.cand_v, self.cand_key = cu, cv, cu * 3 + ct
        nontree = _kruskal_nontree(self.frag(cu), self.frag(cv), _ranks(ent, cu * 3 + ct))
        self.cand_tree = ~nontree
        self.closing = _unique(ent[nontree])

    def _birth_candidates(self, X: np.ndarray, E: list, SQ: list) -> None:
        """Non-link y- and z-edges of X that are not the last edge of a square of X; Kruskal by key.

        (An x-edge is always the earliest edge of its upper end, hence a link.) The last edge of the square
        ``(p, 2)`` is ``(p + e_x, 1)``, of ``(p, 1)`` it is ``(p + e_x, 2)``, of ``(p, 0)`` it is ``(p + e_y, 2)``.
        """
        cu, ct = [], []
        for t in (1, 2):
            cand = E[t].copy()
            if t == 1:
                _clear(cand[1:], SQ[2][:-1])
            else:
                _clear(cand[1:], SQ[1][:-1])
                _clear(cand[:, 1:], SQ[0][:, :-1])
            self._drop_links(cand, t)
            p = np.flatnonzero(cand)
            cu.append(p)
            ct.append(np.full(len(p), t, np.int64))
        cu, ct = np.concatenate(cu), np.concatenate(ct)
        key = cu * 3 + ct
        cv = cu + self.stride[ct]
        self.cand_u, self.cand_v, self.cand_key = cu, cv, key
        nontree = _kruskal_nontree(self.frag(cu), self.frag(cv), key)
        self.cand_tree = ~nontree
        self.closing = np.sort(key[nontree])

    def _special(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = self.sid[v].astype(np.int64) - 1
        return np.maximum(pos, 0), pos >= 0

    def parent(self, v: np.ndarray) -> np.ndarray:
        """The other end of each vertex's link (``-x`` for the others); the vertex itself for a root."""
        pos, special = self._special(v)
        return np.where(special, self.S_parent[pos], v - self.stride[0])

    def link_key(self, v: np.ndarray) -> np.ndarray:
        """Key of each vertex's link edge (-1 for a root)."""
        pos, special = self._special(v)
        return np.where(special, self.S_link[pos], (v - self.stride[0]) * 3)

    # -- walking the forest (see _walks)
    @property
    def run_step(self) -> int:
        return int(self.stride[0])

    def run_keys(self, pos: np.ndarray) -> np.ndarray:
        return pos * 3  # the x-edge from pos to pos + e_x

    def start_runs(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each vertex: the index (in S) of its chain's special, and the run of x-edges between them."""
        i = self.head_index(v)
        h = self.S[i]
        return i, h, (v - h) // self.stride[0]

    def walk_tables(self) -> _WalkTables:
        if getattr(self, "_tables", None) is None:
            S, par, root = self.S, self.S_parent, self.root_S
            nxt, lo, length = self.start_runs(par)
            self._tables = _WalkTables(S, np.where(root, -1, nxt), self.S_link, lo, np.where(root, 0, length))
        return self._tables

    def head_index(self, v: np.ndarray) -> np.ndarray:
        """The special vertex (its position in S) that ends the ``-x`` chain of each vertex in ``v``."""
        return self.head[v].astype(np.int64) - 1

    def frag(self, v: np.ndarray) -> np.ndarray:
        return self.frag_S[self.head_index(v)]


class _DualSweep:
    """Union-find over the squares not in ``X`` in reverse order, as dual edges between cubes (and the outside).

    ``deaths``: reverse index order. ``births``: reverse order of the squares' last edge (then index), the order in
    which the index-order sweep of the edges completes them. The same structure as :class:`_PrimalSweep`: a cube's
    latest free face is a tree edge; it is the ``+x`` face wherever that is free (in both orders), so those links
    chain along ``+x`` outside the mask, and a Kruskal over the resulting fragments decides the squares near the
    mask. A square that is the first (in sweep order) square of an edge outside ``X`` closes that edge's dual face
    and is left out. ``connected``: the squares whose dual edge closes a cycle in the unswept part of the
    complement.
    """

    def __init__(self, cells: _Cells, mode: str = "deaths"):
        X, E, SQ = cells.X, cells.E, cells.SQ
        self.mode = mode
        shape = X.shape
        self.shape = shape
        _, n1, n2 = shape
        N = X.size
        self.vstride = np.array([n1 * n2, n2, 1], np.int64)
        m = tuple(k - 1 for k in shape)
        self.m = m
        M = m[0] * m[1] * m[2] if min(m) > 0 else 0
        self.M = M
        INF = M
        self.cstride = np.array([m[1] * m[2], m[2], 1], np.int64) if M else np.ones(3, np.int64)
        cubes, free, self.sid, self.head = cells.dual_base()
        priority = (0, 1, 2, 3, 4, 5) if mode == "deaths" else (0, 1, 2, 4, 3, 5)
        codes = _first_choice({0: list(priority)}, classes=1)[free].astype(np.int64)
        self.inf_key, self.inf_target = self._infinity_link(SQ)
        S = np.concatenate([cubes, [INF]])
        self.S = S
        key, tgt = self._face_link(cubes, codes)
        key = np.concatenate([key, [self.inf_key]])
        tgt = np.concatenate([tgt, [self.inf_target]])
        # a link chosen by both ends: a special's, or the +x face of a cube that is not special (chosen from above:
        # the face -x of a special, or the outside's square on the plane x = m0)
        pos, special = self._special(tgt)
        inf_lo = self.sides(np.array([max(self.inf_key, 0)], np.int64))[0][0]
        from_above = np.r_[codes == 5, self.inf_key >= 0 and self.inf_key % 3 == 0 and inf_lo == self.inf_target]
        mutual = np.where(special, key[pos] == key, from_above & (tgt < M))
        root = (key < 0) | (tgt == S) | (mutual & (S > tgt))
        self.root_S = root
        self.S_parent = np.where(root, S, tgt)
        self.S_link = np.where(root, -1, key)
        self.nfrag, self.frag_S = _roots(self.head_index(self.S_parent))
        # candidates: squares not in X whose entering edges all lie in X (at least one), and not links (a link is
        # a special's, or the +x face of a cube that is not special)
        ck, c1, c2 = cells.dual_candidates(mode, self.sides)
        p1, s1 = self._special(c1)
        p2, s2 = self._special(c2)
        islink = (s1 & (self.S_link[p1] == ck)) | (s2 & (self.S_link[p2] == ck))
        islink |= (ck % 3 == 0) & ~s1 & (c1 < M)
        ck, c1, c2 = ck[~islink], c1[~islink], c2[~islink]
        nontree = _kruskal_nontree(self.frag(c1), self.frag(c2), -self.order_rank(ck))
        self.cand_key, self.cand_u, self.cand_v, self.cand_tree = ck, c1, c2, ~nontree
        self.connected = _unique(ck[nontree])

    def _face_link(self, cubes: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Key of the face ``codes`` (+x, +y, +z, -z, -y, -x) of each cube, and the node behind it."""
        m, INF = self.m, self.M
        if not len(cubes):
            z = np.zeros(0, np.int64)
            return z, z
        axes = np.array([0, 1, 2, 2, 1, 0])[codes]
        up = codes < 3
        cx, rem = np.divmod(cubes, m[1] * m[2])
        cy, cz = np.divmod(rem, m[2])
        v = (cx * self.shape[1] + cy) * self.shape[2] + cz
        key = np.where(up, (v + self.vstride[axes]) * 3 + axes, v * 3 + axes)
        coord = np.choose(axes, (cx, cy, cz))
        inside = np.where(up, coord + 1 <= np.asarray(m)[axes] - 1, coord >= 1)
        return key, np.where(inside, cubes + np.where(up, 1, -1) * self.cstride[axes], INF)

    def order_rank(self, keys: np.ndarray) -> np.ndarray:
        """Ranks of squares in the sweep order: by key (``deaths``), or by (last edge, key) (``births``)."""
        if self.mode == "deaths":
            return _ranks(keys)
        return _ranks(_last_edge_keys(keys, self.shape), keys)

    def _infinity_link(self, SQ: list[np.ndarray]) -> tuple[int, int]:
        """The outside's latest free boundary square (in sweep order) and the node behind it; ``(-1, M)`` if none."""
        n = self.shape
        keys = []
        for s in range(3):
            a, b = [ax for ax in range(3) if ax != s]
            if n[a] < 2 or n[b] < 2:
                continue
            for side in sorted({0, n[s] - 1}):
                plane = SQ[s][tuple(side if ax == s else slice(None) for ax in range(3))]
                pos = np.flatnonzero(~plane[: n[a] - 1, : n[b] - 1])
                if len(pos) == 0:
                    continue
                qa, qb = np.divmod(pos, n[b] - 1)
                coords = [None, None, None]
                coords[s], coords[a], coords[b] = np.full(len(pos), side, np.int64), qa, qb
                keys.append(((coords[0] * n[1] + coords[1]) * n[2] + coords[2]) * 3 + s)
        if not keys:
            return -1, self.M
        keys = np.concatenate(keys)
        best = int(keys[np.argmax(self.order_rank(keys))])
        lo, hi = self.sides(np.array([best], np.int64))
        return best, int(hi[0] if lo[0] == self.M else lo[0])

    def sides(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The two nodes (cube ids, or M for the outside) on either side of each square."""
        n, m, INF = self.shape, self.m, self.M
        if not INF:
            return np.full(len(keys), INF, np.int64), np.full(len(keys), INF, np.int64)
        p, s = np.divmod(keys, 3)
        x, rem = np.divmod(p, n[1] * n[2])
        y, z = np.divmod(rem, n[2])
        ps = np.choose(s, (x, y, z))
        flat = (x * m[1] + y) * m[2] + z
        hi = np.where(ps <= np.asarray(m)[s] - 1, flat, INF)
        lo = np.where(ps >= 1, flat - self.cstride[s], INF)
        return lo, hi

    def _special(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = self.sid[c].astype(np.int64) - 1
        return np.maximum(pos, 0), pos >= 0

    def parent(self, c: np.ndarray) -> np.ndarray:
        """The node behind each node's link (the cube ``+x`` or the outside for the others); the node itself for a
        root (the later end of a link chosen by both of its ends)."""
        c = np.asarray(c, np.int64)
        pos, special = self._special(c)
        standard = np.where(c // self.cstride[0] < self.m[0] - 1, c + self.cstride[0], self.M)
        return np.where(special, self.S_parent[pos], standard)

    def link_key(self, c: np.ndarray) -> np.ndarray:
        """Key of the link of each node; -1 for a root."""
        c = np.asarray(c, np.int64)
        pos, special = self._special(c)
        if not self.M:
            return self.S_link[pos]
        return np.where(special, self.S_link[pos], self.run_keys(np.where(special, 0, c)))

    # -- walking the forest (see _walks)
    @property
    def run_step(self) -> int:
        return int(self.cstride[0])

    def run_keys(self, cubes: np.ndarray) -> np.ndarray:
        """The ``+x`` face of each cube."""
        m, n = self.m, self.shape
        cx, rem = np.divmod(cubes, m[1] * m[2])
        cy, cz = np.divmod(rem, m[2])
        return (((cx + 1) * n[1] + cy) * n[2] + cz) * 3

    def start_runs(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each node: the index (in S) of its chain's special, and the run of cubes whose +x faces lead there."""
        i = self.head_index(c)
        h = self.S[i]
        inside = c < self.M
        hx = np.where(h < self.M, h // self.cstride[0], self.m[0])
        cx = np.where(inside, c // self.cstride[0], hx)
        return i, c, np.where(inside, hx - cx, 0)

    def walk_tables(self) -> _WalkTables:
        if getattr(self, "_tables", None) is None:
            S, par, root = self.S, self.S_parent, self.root_S
            nxt, lo, length = self.start_runs(par)
            self._tables = _WalkTables(S, np.where(root, -1, nxt), self.S_link, lo, np.where(root, 0, length))
        return self._tables

    def head_index(self, c: np.ndarray) -> np.ndarray:
        """The special node (its position in S) ending the ``+x`` chain of each node (the outside, last in S, for
        chains leaving the grid)."""
        return self.head[c].astype(np.int64) - 1

    def frag(self, c: np.ndarray) -> np.ndarray:
        return self.frag_S[self.head_index(c)]


def _last_edge_keys(keys: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Key of the last edge (index order) of each square: ``(p + e_y, 2)`` for type 0, ``(p + e_x, 2)`` for type 1,
    ``(p + e_x, 1)`` for type 2."""
    p, s = np.divmod(keys, 3)
    n = shape
    step = np.where(s == 0, n[2], n[1] * n[2])
    return (p + step) * 3 + np.where(s == 2, 1, 2)


def _dual_candidates(X: np.ndarray, E: list[np.ndarray], SQ: list[np.ndarray], mode: str | None) -> np.ndarray:
    """Keys (type, then position) of the squares ``(p, s)`` not in ``X`` such that every edge whose first square
    (in sweep order) is ``(p, s)`` (at least one) lies in ``X``.

    The edges whose first square (``deaths``: by index; ``births``: by last edge, then index) is ``(p, s)``: for
    ``s = 2`` the edges ``(p + e_y, 0)`` and ``(p + e_x, 1)``, and if ``y = z = 0`` the edge ``(p, 0)`` (``deaths``:
    on a grid one voxel thick in z), and if ``x = z = 0`` on a grid one voxel thick in z the edge ``(p, 1)``; for
    ``s = 1`` the edge ``(p + e_x, 2)``, ``(p + e_z, 0)`` if ``y = 0``, ``(p, 0)`` if ``y = z = 0`` (``births``: on
    a grid one voxel thick in y), and (``deaths``) ``(p, 2)`` if ``x = y = 0`` on a grid one voxel thick in y; for
    ``s = 0`` none unless ``x = 0``: then ``(p + e_z, 1)``, ``(p + e_y, 2)``, ``(p, 1)`` if ``z = 0`` and ``(p, 2)``
    if ``y = 0``. ``mode`` None (a grid thick in y and z): without the conditions of either mode on the edge
    ``(p, 0)`` at ``y = z = 0`` (see :func:`_axis_candidates`).
    """
    shape = X.shape
    n0, n1, n2 = shape
    deaths = mode == "deaths"
    keys = []
    if n0 > 1 and n1 > 1:  # s = 2
        ok = np.zeros(shape, bool)
        np.logical_and(E[0][:-1, 1:], E[1][1:, :-1], out=ok[:-1, :-1])
        _clear(ok[:-1, :-1], SQ[2][:-1, :-1])
        if mode is not None and (n2 == 1 or not deaths):
            ok[:, 0, 0] &= E[0][:, 0, 0]
        if n2 == 1:
            ok[0, :, 0] &= E[1][0, :, 0]
        keys.append(np.flatnonzero(ok) * 3 + 2)
    if n0 > 1 and n2 > 1:  # s = 1
        ok = np.zeros(shape, bool)
        np.greater(E[2][1:, :, :-1], SQ[1][:-1, :, :-1], out=ok[:-1, :, :-1])  # and not
        ok[:-1, 0, :-1] &= E[0][:-1, 0, 1:]
        if mode is not None and (deaths or n1 == 1):
            ok[:, 0, 0] &= E[0][:, 0, 0]
        if deaths and n1 == 1:
            ok[0, 0, :] &= E[2][0, 0, :]
        keys.append(np.flatnonzero(ok) * 3 + 1)
    if n1 > 1 and n2 > 1:  # s = 0
        ok = np.zeros((n1, n2), bool)
        ok[:-1, :-1] = E[1][0, :-1, 1:] & E[2][0, 1:, :-1] & ~SQ[0][0, :-1, :-1]
        ok[:, 0] &= E[1][0, :, 0]
        ok[0, :] &= E[2][0, 0, :]
        keys.append(np.flatnonzero(ok) * 3)
    keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    return keys


def _axis_candidates(keys: np.ndarray, E: list[np.ndarray], mode: str) -> np.ndarray:
    """Which of the squares ``keys`` of :func:`_dual_candidates` (mode None) are candidates in ``mode``: at
    ``y = z = 0`` the edge ``(p, 0)`` enters with the square of type 2 (``births``) or 1 (``deaths``), and must lie
    in ``X``."""
    shape = E[0].shape
    p, s = np.divmod(keys, 3)
    on_axis = np.flatnonzero((p % (shape[1] * shape[2]) == 0) & (s == (2 if mode == "births" else 1)))
    keep = np.ones(len(keys), bool)
    keep[on_axis] = E[0][:, 0, 0][p[on_axis] // (shape[1] * shape[2])]
    return keep


def _square_edges(keys: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The four edge keys of each square and whether each enters with it (its first square is this one)."""
    n = shape
    p, s = np.divmod(keys, 3)
    x, rem = np.divmod(p, n[1] * n[2])
    y, z = np.divmod(rem, n[2])
    edges = np.empty((len(keys), 4), np.int64)
    new = np.empty((len(keys), 4), bool)
    for st in range(3):
        sel = np.flatnonzero(s == st)
        if len(sel) == 0:
            continue
        a, b = [ax for ax in range(3) if ax != st]
        base = np.stack([x[sel], y[sel], z[sel]])
        for j, (off, t) in enumerate(((None, a), (b, a), (None, b), (a, b))):
            q = base.copy()
            if off is not None:
                q[off] += 1
            qf = (q[0] * n[1] + q[1]) * n[2] + q[2]
            edges[sel, j] = qf * 3 + t
            new[sel, j] = _entry_keys(q[0], q[1], q[2], t, shape) == keys[sel]
    return edges, new


# ----------------------------------------------------------------------------------------------------------------
# dimension 1 of 3D masks: loops through the sweeps' spanning forests, and their linking numbers


def _fragment_tree(nfrag: int, fu: np.ndarray, fv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root the forest of fragments joined by the Kruskal's tree edges ``(fu[i], fv[i])``.

    Returns, per fragment, its parent fragment (itself for a root), the index ``i`` of the tree edge to the parent
    (-1 for a root), and its depth.
    """
    k = len(fu)
    nodes = nfrag + 1  # node nfrag: a super root joined to one fragment per component
    ncomp, comp = connected_components(coo_matrix((np.ones(k), (fu, fv)), shape=(nfrag, nfrag)), directed=False)
    firsts = np.full(ncomp, nfrag, np.int64)
    np.minimum.at(firsts, comp, np.arange(nfrag))
    rows = np.concatenate([fu, fv, np.full(len(firsts), nfrag)])
    cols = np.concatenate([fv, fu, firsts])
    graph = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(nodes, nodes))
    _, pred = breadth_first_order(graph, nfrag, directed=True, return_predecessors=True)
    pred = pred[:nfrag].astype(np.int64)
    parent = np.where(pred == nfrag, np.arange(nfrag), pred)
    edge = np.full(nfrag, -1, np.int64)
    up_u = parent[fu] == fv
    edge[fu[up_u]] = np.flatnonzero(up_u)
    up_v = (parent[fv] == fu) & ~up_u
    edge[fv[up_v]] = np.flatnonzero(up_v)
    # depth by pointer doubling
    depth = (parent != np.arange(nfrag)).astype(np.int64)
    anc = parent.copy()
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            break
        depth = depth + depth[anc]  # invariant: depth[v] = number of steps from v to anc[v]
        anc = nxt
    return parent, edge, depth


def _fragment_paths(
    parent: np.ndarray, depth: np.ndarray, fa: np.ndarray, fb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The fragments on the tree path between ``fa[i]`` and ``fb[i]``, without their common ancestor, as
    ``(owner i, fragment)`` pairs: every fragment there contributes its tree edge to its parent."""
    owners, frags = [], []
    a, b, ids = fa.copy(), fb.copy(), np.arange(len(fa))
    da, db = depth[a], depth[b]
    while len(ids):
        differ = a != b
        a, b, da, db, ids = a[differ], b[differ], da[differ], db[differ], ids[differ]
        if not len(ids):
            break
        up_a = da >= db
        up_b = db >= da
        owners.append(ids[up_a])
        frags.append(a[up_a])
        owners.append(ids[up_b])
        frags.append(b[up_b])
        a = np.where(up_a, parent[a], a)
        b = np.where(up_b, parent[b], b)
        da = np.where(up_a, da - 1, da)
        db = np.where(up_b, db - 1, db)
    if not owners:
        z = np.zeros(0, np.int64)
        return z, z
    return np.concatenate(owners), np.concatenate(frags)


def _expand_runs(lo: np.ndarray, length: np.ndarray, owners: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``lo + k * step`` for ``k < length``, with their owners."""
    total = int(length.sum())
    if total == 0:
        z = np.zeros(0, np.int64)
        return z, z
    first = np.cumsum(length) - length
    return np.repeat(lo - first * step, length) + np.arange(total) * step, np.repeat(owners, length)


class _WalkTables:
    """The forest of a sweep's links, compressed to its specials: from each special, its link and the chain run
    that leads to the next special toward the fragment's root (``nxt`` -1 at the root)."""

    def __init__(self, S: np.ndarray, nxt: np.ndarray, link: np.ndarray, run_lo: np.ndarray, run_len: np.ndarray):
        self.S, self.nxt, self.link, self.run_lo, self.run_len = S, nxt, link, run_lo, run_len


def _walks(sweep, starts: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys (edges, or squares for a dual sweep), with their owner, of the forest paths from each start node to its
    fragment's root. The walk collects the specials' links and the runs between them; the runs are expanded at
    the end, in one pass."""
    tables = sweep.walk_tables()
    owners = np.asarray(owners, np.int64)
    cur, lo, length = sweep.start_runs(np.asarray(starts, np.int64))
    link_k, link_o, run_lo, run_len, run_o = [], [], [lo], [length], [owners]
    own = owners
    nxt, link, t_lo, t_len = tables.nxt, tables.link, tables.run_lo, tables.run_len
    while len(cur):
        go = nxt[cur] >= 0
        cur, own = cur[go], own[go]
        if not len(cur):
            break
        link_k.append(link[cur])
        link_o.append(own)
        run_lo.append(t_lo[cur])
        run_len.append(t_len[cur])
        run_o.append(own)
        cur = nxt[cur]
    pos, o = _expand_runs(np.concatenate(run_lo), np.concatenate(run_len), np.concatenate(run_o), sweep.run_step)
    return np.concatenate([sweep.run_keys(pos)] + link_k), np.concatenate([o] + link_o)


def _forest_loops(
    sweep: _PrimalSweep, keys: np.ndarray, owners: np.ndarray, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Close paths into loops: the edges ``keys`` (of ``owners``) and, for each loop ``i``, the path between
    ``a[i]`` and ``b[i]`` in the sweep's spanning forest (edge keys with their owner; mod 2, shared parts cancel)."""
    n = len(a)
    out_k, out_o = [keys], [owners]
    wk, wo = _walks(sweep, np.concatenate([a, b]), np.concatenate([np.arange(n), np.arange(n)]))
    out_k.append(wk)
    out_o.append(wo)
    tree = np.flatnonzero(sweep.cand_tree)
    tu, tv = sweep.cand_u[tree], sweep.cand_v[tree]
    parent, edge, depth = _fragment_tree(sweep.nfrag, sweep.frag(tu), sweep.frag(tv))
    po, pf = _fragment_paths(parent, depth, sweep.frag(a), sweep.frag(b))
    if len(po):
        e = edge[pf]
        out_k.append(sweep.cand_key[tree][e])
        out_o.append(po)
        wk, wo = _walks(sweep, np.concatenate([tu[e], tv[e]]), np.concatenate([po, po]))
        out_k.append(wk)
        out_o.append(wo)
    return np.concatenate(out_k), np.concatenate(out_o)


def _square_loops(sweep: _PrimalSweep, squares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One loop per event square of a ``deaths`` sweep: its entering edges and the forest path between their ends
    (the loop lies in the part of the mask swept before the square)."""
    n = len(squares)
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z
    edges, new = _square_edges(squares, sweep.shape)
    own = np.repeat(np.arange(n), 4).reshape(n, 4)[new]
    ekeys = edges[new]
    lower = ekeys // 3
    vo = np.concatenate([own, own])
    vv = np.concatenate([lower, lower + sweep.stride[ekeys % 3]])
    order = np.lexsort((vv, vo))
    vo, vv = vo[order], vv[order]
    start = np.ones(len(vv), bool)
    start[1:] = (vv[1:] != vv[:-1]) | (vo[1:] != vo[:-1])
    first = np.flatnonzero(start)
    count = np.diff(np.append(first, len(vv)))
    ends = vv[first[count % 2 == 1]]  # the two ends of each event's path of entering edges, by event
    return _forest_loops(sweep, ekeys, own, ends[0::2], ends[1::2])


def _edge_loops(sweep: _PrimalSweep, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One loop per birth edge of a ``births`` sweep: the edge and the forest path between its ends (earlier edges)."""
    n = len(edges)
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z
    lower = edges // 3
    return _forest_loops(sweep, edges, np.arange(n), lower, lower + sweep.stride[edges % 3])


def _dual_loops(sweep: _DualSweep, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One dual loop per event square (square keys, owner = event index): the square and the dual forest path
    between its two sides (every such loop avoids the mask and the squares before the event)."""
    n = len(events)
    if n == 0:
        z = np.zeros(0, np.int64)
        return z, z
    c1, c2 = sweep.sides(events)
    keys, owners = [events], [np.arange(n)]
    wk, wo = _walks(sweep, np.concatenate([c1, c2]), np.concatenate([np.arange(n), np.arange(n)]))
    keys.append(wk)
    owners.append(wo)
    tree = np.flatnonzero(sweep.cand_tree)
    tu, tv = sweep.cand_u[tree], sweep.cand_v[tree]
    parent, edge, depth = _fragment_tree(sweep.nfrag, sweep.frag(tu), sweep.frag(tv))
    po, pf = _fragment_paths(parent, depth, sweep.frag(c1), sweep.frag(c2))
    if len(po):
        e = edge[pf]
        keys.append(sweep.cand_key[tree][e])
        owners.append(po)
        wk, wo = _walks(sweep, np.concatenate([tu[e], tv[e]]), np.concatenate([po, po]))
        keys.append(wk)
        owners.append(wo)
    return np.concatenate(keys), np.concatenate(owners)


def _odd_intervals(
    owner: np.ndarray, group: np.ndarray, pos: np.ndarray, end: int, ngroups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The items of each ``(owner, group)`` sorted by ``pos`` (``0 <= pos < end``, ``0 <= group < ngroups``) and
    paired in turn: the intervals ``[p1, p2)``, ``[p3, p4)``, ... (an unpaired last one runs to ``end``), as
    ``(owner, group, lo, hi)``. Their union is the XOR of the rays ``[p, end)`` of the items."""
    if (int(owner.max()) + 1) * ngroups * end < 1 << 62:
        order = np.argsort((owner * ngroups + group) * end + pos)
    else:
        order = np.lexsort((pos, group, owner))
    owner, group, pos = owner[order], group[order], pos[order]
    n = len(owner)
    start = np.ones(n, bool)
    start[1:] = (owner[1:] != owner[:-1]) | (group[1:] != group[:-1])
    index = np.arange(n)
    rank = index - np.maximum.accumulate(np.where(start, index, 0))
    opener = np.flatnonzero(rank % 2 == 0)
    closer = opener + 1
    paired = closer < n
    paired[paired] = ~start[closer[paired]]
    hi = np.full(len(opener), end, np.int64)
    hi[paired] = pos[closer[paired]]
    return owner[opener], group[opener], pos[opener], hi


def _linking_words(
    edge_keys: np.ndarray,
    rows: np.ndarray,
    square_keys: np.ndarray,
    cols: np.ndarray,
    ncols: int,
    shape: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linking numbers (mod 2) of primal loops (edge keys, row owner) with dual loops (square keys, column owner), as
    the non-zero 64-bit words of the bit matrix: ``(row, word index, bits)``, sorted by row and word.

    ``lk(z, g)`` is the number of edges of ``z`` that cross a Seifert surface of ``g``: the surface swept by ``g`` along
    ``-y`` (out of the grid). An x-edge at ``(x, y, z)`` crosses the strip of a square of type 2 at ``(x, y'', z)``
    with ``y'' >= y``; a z-edge at ``(x, y, z)`` the strip of a type-0 square at ``(x, y'', z)`` with ``y'' >= y``, and
    the strip of a type-1 square on the top face ``y'' = ny - 1`` at ``(x'' >= x, z)`` (whose way out of the grid sweeps
    over the grid). Each family lives on lines (groups) of a fixed position along the other two axes. Two ways to
    count: running XORs of the squares' column bits along each line (cost: items times words), or, as a loop's items
    cancel in pairs along a line, the pairs (row, column) of a row's squares between its consecutive edges, or of a
    column's edges between its consecutive squares (cost: the number of such pairs); the cheaper one is taken.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64))
    if len(edge_keys) == 0 or len(square_keys) == 0:
        return empty
    _, n1, n2 = shape
    ep, et = np.divmod(edge_keys, 3)
    ex, rem = np.divmod(ep, n1 * n2)
    ey, ez = np.divmod(rem, n2)
    sp, st = np.divmod(square_keys, 3)
    sx, rem = np.divmod(sp, n1 * n2)
    sy, sz = np.divmod(rem, n2)
    lines = max(shape) ** 2  # per family; the families' lines are told apart by an offset
    families = (
        (et == 0, ex * n2 + ez, ey, st == 2, sx * n2 + sz, sy),
        (et == 2, ex * n2 + ez, ey, st == 0, sx * n2 + sz, sy),
        (et == 2, ez, ex, (st == 1) & (sy == n1 - 1), sz, sx),
    )
    parts: list[list[np.ndarray]] = [[], [], [], [], [], []]
    for f, (esel, eg, epos, ssel, sg, spos) in enumerate(families):
        ei, si = np.flatnonzero(esel), np.flatnonzero(ssel)
        values = (eg[ei] + f * lines, epos[ei], rows[ei], sg[si] + f * lines, spos[si], cols[si])
        for out, value in zip(parts, values):
            out.append(value)
    e_g, e_pos, e_row, s_g, s_pos, s_col = (np.concatenate(p) for p in parts)
    if not len(e_g) or not len(s_g):
        return empty
    words = (ncols + 63) // 64
    dense_cost = (len(e_g) + len(s_g)) * words
    if dense_cost > _LINKING_DENSE_WORDS:
        codes = _linking_pairs(e_g, e_pos, e_row, s_g, s_pos, s_col, ncols, max(shape) + 1, 3 * lines, dense_cost)
        if codes is not None and len(codes) == 0:
            return empty
        if codes is not None:
            row, col = np.divmod(codes, ncols)
            at = col // 64
            first = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (at[1:] != at[:-1])])
            bits = np.left_shift(np.uint64(1), (col % 64).astype(np.uint64))
            return row[first], at[first], np.bitwise_or.reduceat(bits, first)
    return _linking_dense(e_g, e_pos, e_row, s_g, s_pos, s_col, words, 3 * lines)


_LINKING_DENSE_WORDS = 1 << 22  # at most this many words of running XORs at once (32 MB)
_LINKING_PAIR_COST = 10  # the time of one enumerated pair, in running-XOR words
_LINKING_PAIRS_AT_ONCE = 1 << 21  # at most about this many enumerated pairs at once (16 MB each array)


def _linking_dense(
    e_g: np.ndarray,
    e_pos: np.ndarray,
    e_row: np.ndarray,
    s_g: np.ndarray,
    s_pos: np.ndarray,
    s_col: np.ndarray,
    words: int,
    ngroups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running XORs of the squares' column bits along each line, from its top down; an edge reads the XOR of the
    squares at or above it. In blocks of columns, over the lines that hold squares of the block."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    block = max(1, min(words, _LINKING_DENSE_WORDS // (len(e_g) + len(s_g))))
    has_edge = np.zeros(ngroups, bool)
    has_edge[e_g] = True
    s_word = s_col // 64
    s_bit = np.left_shift(np.uint64(1), (s_col % 64).astype(np.uint64))
    for w0 in range(0, words, block):
        si = np.flatnonzero(has_edge[s_g] & (s_word >= w0) & (s_word < w0 + block))
        if not len(si):
            continue
        has_square = np.zeros(ngroups, bool)
        has_square[s_g[si]] = True
        ei = np.flatnonzero(has_square[e_g])
        if not len(ei):
            continue
        g = np.concatenate([s_g[si], e_g[ei]])
        pos = np.concatenate([s_pos[si], e_pos[ei]])
        is_edge = np.r_[np.zeros(len(si), bool), np.ones(len(ei), bool)]
        order = np.lexsort((is_edge, -pos, g))  # per line from the top; a square before an edge at its position
        g, is_edge = g[order], is_edge[order]
        vals = np.zeros((len(order), block), np.uint64)
        sq = np.flatnonzero(~is_edge)
        src = si[order[sq]]
        vals[sq, s_word[src] - w0] = s_bit[src]
        cum = np.bitwise_xor.accumulate(vals, axis=0)
        del vals
        line_start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        before = np.zeros((len(line_start), block), np.uint64)  # the running XOR where each line starts
        before[1:] = cum[line_start[1:] - 1]
        line = np.cumsum(np.r_[True, g[1:] != g[:-1]]) - 1
        at = np.flatnonzero(is_edge)
        running = cum[at] ^ before[line[at]]
        del cum
        r = e_row[ei[order[at] - len(si)]]
        by_row = np.argsort(r, kind="stable")
        r, running = r[by_row], running[by_row]
        first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        acc = np.bitwise_xor.reduceat(running, first, axis=0)
        nz_r, nz_w = np.nonzero(acc)
        out.append((r[first][nz_r], nz_w + w0, acc[nz_r, nz_w]))
    if not out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
    row, at, bits = (np.concatenate(p) for p in zip(*out))
    order = np.lexsort((at, row))
    return row[order], at[order], bits[order]


def _linking_pairs(
    e_g: np.ndarray,
    e_pos: np.ndarray,
    e_row: np.ndarray,
    s_g: np.ndarray,
    s_pos: np.ndarray,
    s_col: np.ndarray,
    ncols: int,
    span: int,
    ngroups: int,
    dense_cost: int,
) -> np.ndarray | None:
    """The odd pairs ``row * ncols + col`` (sorted), enumerated per line from the side with fewer pairs; ``None`` if
    that costs more than ``dense_cost`` running-XOR words."""
    # a row's intervals [p, q) of positions hold the squares it meets (squares at or above its edges, mod 2)
    s_key = s_g * span + s_pos
    s_order = np.argsort(s_key)
    s_key, col_at = s_key[s_order], s_col[s_order]
    r_own, r_g, r_lo, r_hi = _odd_intervals(e_row, e_g, e_pos, span, ngroups)
    r_a = np.searchsorted(s_key, r_g * span + r_lo)
    r_len = np.searchsorted(s_key, r_g * span + r_hi) - r_a
    # a column's intervals of reversed positions hold the edges it meets (edges at or below its squares, mod 2)
    e_key = e_g * span + (span - 1 - e_pos)
    e_order = np.argsort(e_key)
    e_key, row_at = e_key[e_order], e_row[e_order]
    c_own, c_g, c_lo, c_hi = _odd_intervals(s_col, s_g, span - 1 - s_pos, span, ngroups)
    c_a = np.searchsorted(e_key, c_g * span + c_lo)
    c_len = np.searchsorted(e_key, c_g * span + c_hi) - c_a
    per_row, per_col = np.bincount(r_g, r_len, ngroups), np.bincount(c_g, c_len, ngroups)
    if _LINKING_PAIR_COST * np.minimum(per_row, per_col).sum() > dense_cost:
        return None
    by_rows = per_row <= per_col
    keep = by_rows[r_g]
    r_a, r_len, r_own = r_a[keep], r_len[keep], r_own[keep]
    keep = ~by_rows[c_g]
    c_g, c_lo, c_hi, c_own, c_a, c_len = c_g[keep], c_lo[keep], c_hi[keep], c_own[keep], c_a[keep], c_len[keep]
    # in ranges of rows (about equal numbers of edges), each reduced on its own: bounded memory
    chunks = max(1, -(-int(np.minimum(per_row, per_col).sum()) // _LINKING_PAIRS_AT_ONCE))
    ordered_rows = np.sort(e_row)
    cuts = np.unique(np.r_[ordered_rows[(np.arange(1, chunks) * len(e_row)) // chunks], ordered_rows[-1] + 1])
    out, first_row = [], 0
    for last_row in cuts.tolist():
        if chunks == 1:
            rows_in, cols_a, cols_len = row_at, c_a, c_len
            sel = slice(None)
        else:
            in_range = (row_at >= first_row) & (row_at < last_row)
            rows_in = row_at[in_range]
            before = np.r_[0, np.cumsum(in_range)]  # a column's edges in range: its run of e_key, counted in range
            cols_a = before[c_a]
            cols_len = before[c_a + c_len] - cols_a
            sel = (r_own >= first_row) & (r_own < last_row)
        at, own = _expand_runs(r_a[sel], r_len[sel], r_own[sel], 1)
        codes = [own * ncols + col_at[at]]
        at, own = _expand_runs(cols_a, cols_len, c_own, 1)
        codes.append(rows_in[at] * ncols + own)
        code = np.sort(np.concatenate(codes))
        del codes, at, own
        if len(code):
            start = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
            out.append(code[start[np.diff(np.append(start, len(code))) % 2 == 1]])
        first_row = last_row
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _pivot_rows(row: np.ndarray, at: np.ndarray, bits: np.ndarray, nrows: int) -> np.ndarray:
    """Persistence pairing of a GF(2) bit matrix given by its non-zero words (``row``, word index ``at``, ``bits``;
    sorted by row; rows: births in order; columns: deaths in order, as linking numbers with dual loops): each row,
    reduced by the earlier rows, dies at its last non-zero column; -1 if it vanishes."""
    out = np.full(nrows, -1, np.int64)
    if len(row) == 0:
        return out
    bounds = np.flatnonzero(np.r_[True, row[1:] != row[:-1], True])
    basis: dict[int, int] = {}
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        buf = np.zeros(int(at[b - 1]) + 1, "<u8")
        buf[at[a:b]] = bits[a:b]
        v = int.from_bytes(buf.tobytes(), "little")
        while v:
            top = v.bit_length() - 1
            pivot = basis.get(top)
            if pivot is None:
                basis[top] = v
                out[int(row[a])] = top
                break
            v ^= pivot
    return out


def _birth_edges(primal: _PrimalSweep, dual: _DualSweep) -> np.ndarray:
    """Births of tunnels (index order): closing edges whose last completed square (the latest-keyed square it ends:
    ``(p - e_x, 2)`` for a y-edge, ``(p - e_x, 1)`` or else ``(p - e_y, 0)`` for a z-edge) closes a dual cycle."""
    b = primal.closing
    n = primal.shape
    p, t = np.divmod(b, 3)
    x = p // (n[1] * n[2])
    y = (p // n[2]) % n[1]
    sq = np.where(
        t == 1,
        np.where(x >= 1, (p - n[1] * n[2]) * 3 + 2, -1),
        np.where(x >= 1, (p - n[1] * n[2]) * 3 + 1, np.where(y >= 1, (p - n[2]) * 3 + 0, -1)),
    )
    return b[(sq >= 0) & _member(sq, dual.connected)]


@dataclass
class _TunnelPairs:
    """Dimension 1 of one 3D input: tunnels born at edges and dying at squares, with one loop per birth and one dual
    loop per death (paired by their linking numbers, see :func:`_dim1_3d`)."""

    births: np.ndarray  # edge keys, sorted
    deaths: np.ndarray  # square keys, sorted
    loop_keys: np.ndarray  # birth loops (edges), owner = birth index
    loop_owner: np.ndarray
    dual_keys: np.ndarray  # death loops (squares), owner = death index
    dual_owner: np.ndarray


def _tunnels(A: np.ndarray) -> _TunnelPairs:
    cells = _Cells(A)
    closing = _PrimalSweep(cells).closing
    dual = _DualSweep(cells)
    deaths = closing[_member(closing, dual.connected)]
    births_primal = _PrimalSweep(cells, "births")
    births = _birth_edges(births_primal, _DualSweep(cells, "births"))
    if len(births) != len(deaths):
        raise RuntimeError(f"betti_matching: {len(births)} tunnel births but {len(deaths)} deaths; please report.")
    lk, lo = _edge_loops(births_primal, births)
    dk, do = _dual_loops(dual, deaths)
    return _TunnelPairs(births, deaths, lk, lo, dk, do)


def _pivots_against(
    lk: np.ndarray, lo: np.ndarray, nrows: int, columns: list[tuple[np.ndarray, np.ndarray, int]], shape
) -> list[np.ndarray]:
    """:func:`_pivot_rows` of the loops ``(lk, lo)`` (``nrows`` of them) against each set of dual loops ``(keys,
    owner, count)`` in ``columns``; the linking numbers of all sets at once (each set from a new word)."""
    offsets, total = [], 0
    for _, _, count in columns:
        offsets.append(total)
        total += 64 * ((count + 63) // 64)
    if not nrows or not total:
        return [np.full(nrows, -1, np.int64) for _ in columns]
    keys = np.concatenate([k for k, _, _ in columns])
    owners = np.concatenate([o + off for (_, o, _), off in zip(columns, offsets)])
    row, at, bits = _linking_words(lk, lo, keys, owners, total, shape)
    out = []
    for (_, _, count), off in zip(columns, offsets):
        lo_word, hi_word = off // 64, (off + 64 * ((count + 63) // 64)) // 64
        sel = (at >= lo_word) & (at < hi_word)
        out.append(_pivot_rows(row[sel], at[sel] - lo_word, bits[sel], nrows) if count else np.full(nrows, -1, np.int64))
    return out


def _tunnel_death_loops(A: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Counts only: the number of tunnels of ``A`` and one loop per tunnel (at its death square)."""
    cells = _Cells(A)
    primal = _PrimalSweep(cells)
    deaths = primal.closing[_member(primal.closing, _DualSweep(cells).connected)]
    lk, lo = _square_loops(primal, deaths)
    return len(deaths), lk, lo


_SQUARE_PARENT_OFFSETS = np.array(  # the reference's order of the vertices of a square, per type
    [
        [[0, 1, 1], [0, 1, 0], [0, 0, 1], [0, 0, 0]],
        [[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]],
        [[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]],
    ],
    np.int64,
)


def _square_parent_voxels(squares: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Flat index of the reference's voxel of each square of value 1: its first vertex (in the reference's order)
    outside ``A``."""
    if len(squares) == 0:
        return np.zeros(0, np.int64)
    shape = A.shape
    p, s = np.divmod(squares, 3)
    coords = _unravel(p, shape)
    strides = np.array([shape[1] * shape[2], shape[2], 1], np.int64)
    verts = (coords[:, None, :] + _SQUARE_PARENT_OFFSETS[s]) @ strides  # (k, 4)
    outside = ~A.ravel()[verts]
    first = np.argmax(outside, axis=1)
    return verts[np.arange(len(squares)), first]


def _dim1_3d(A0: np.ndarray, A1: np.ndarray, with_pairs: bool) -> tuple[int, list, list]:
    """Dimension 1 of 3D inputs: matched count, and for each input its unmatched ``(birth, death)`` flat voxels
    (or just the unmatched count when ``with_pairs`` is False)."""
    U = A0 | A1
    shape = U.shape
    cells = _Cells(U)
    closing = _PrimalSweep(cells).closing
    dual = _DualSweep(cells)
    events = closing[_member(closing, dual.connected)]
    del cells
    gk, go = _dual_loops(dual, events) if len(events) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    del dual
    pivots = []
    if with_pairs:  # each input's births against its own deaths (its pairs) and the comparison's (the matching)
        tunnels = [_tunnels(A) for A in (A0, A1)]
        death_of = []
        for t in tunnels:
            own, image = _pivots_against(
                t.loop_keys,
                t.loop_owner,
                len(t.births),
                [(t.dual_keys, t.dual_owner, len(t.deaths)), (gk, go, len(events))],
                shape,
            )
            death_of.append(own)
            pivots.append(image)
        counts = [len(t.births) for t in tunnels]
    else:
        counts = []
        for A in (A0, A1):
            count, lk, lo = _tunnel_death_loops(A)
            counts.append(count)
            pivots.append(_pivots_against(lk, lo, count, [(gk, go, len(events))], shape)[0])
    both = np.intersect1d(pivots[0][pivots[0] >= 0], pivots[1][pivots[1] >= 0])
    matched = len(both)
    if not with_pairs:
        return matched, [counts[0] - matched], [counts[1] - matched]
    out = []
    for A, t, piv, own in zip((A0, A1), tunnels, pivots, death_of):
        keep = ~np.isin(piv, both) | (piv < 0)
        b = t.births[keep]
        birth_voxel = b // 3 + np.array([shape[1] * shape[2], shape[2], 1], np.int64)[b % 3]
        death_voxel = _square_parent_voxels(t.deaths[own[keep]], A)
        out.append((birth_voxel, death_voxel))
    return matched, out[0], out[1]


# ----------------------------------------------------------------------------------------------------------------
# the reference's matching of two binary inputs (the sets of voxels of value 0), per dimension


def _reference_matching(A0: np.ndarray, A1: np.ndarray, with_pairs: bool) -> list[tuple[int, object, object]]:
    """Per dimension of the reference (V-construction of ``1 - A``): ``(matched, unmatched_0, unmatched_1)``, where
    ``unmatched_k`` is ``(birth, death)`` flat voxel arrays (``with_pairs``) or a one-element list with the count."""
    d = A0.ndim
    U = A0 | A1
    out = []
    # dimension 0
    sweeps = [_dim0_sweep(A) for A in (A0, A1)]
    k0, k1 = _dim0_matches(sweeps[0], sweeps[1], _dim0_sweep(U))
    dims = []
    for sw, keys in zip(sweeps, (k0, k1)):
        pairs = _dim0_pairs(sw)
        keep = ~np.isin(pairs.key, keys)
        dims.append((pairs.birth[keep], pairs.death[keep]) if with_pairs else [int(keep.sum())])
    out.append((len(k0), dims[0], dims[1]))
    # dimension 1 in 3D: tunnels
    if d == 3:
        out.append(_dim1_3d(A0, A1, with_pairs))
    # the top dimension: holes (2D) and cavities (3D); none on a grid one voxel thick
    if min(A0.shape) < 2:
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64)) if with_pairs else [0]
        out.append((0, empty, empty))
    else:
        tops = [_top_sweep(A) for A in (A0, A1)]
        l0, l1 = _top_matches(tops[0], tops[1], _top_sweep(U))
        dims = []
        for sw, labels in zip(tops, (l0, l1)):
            pairs = _top_pairs(sw, A0.shape)
            keep = ~np.isin(pairs.key, labels)
            dims.append((pairs.birth[keep], pairs.death[keep]) if with_pairs else [int(keep.sum())])
        out.append((len(l0), dims[0], dims[1]))
    return out


# ----------------------------------------------------------------------------------------------------------------
# public API


@dataclass(frozen=True)
class BettiMatching:
    """The Betti matching of a prediction and a target (see :func:`betti_matching`).

    Dimensions are homology dimensions of the foreground: 0 components, 1 loops (2D) / tunnels (3D), 2 cavities.
    The features are the reference's finite persistence pairs: with 6/4-connectivity dimension 0 has ``b0 - 1``
    features (the first component never dies), with 26/8-connectivity all ``b0``.

    Attributes:
        connectivity: the foreground connectivity used (8 / 26 or 4 / 6).
        matched: ``int64`` array ``(ndim,)``: matched features per dimension.
        unmatched_pred: unmatched features of the prediction per dimension.
        unmatched_target: unmatched features of the target per dimension.
        pred_births, pred_deaths: per dimension, ``(k, ndim)`` voxel coordinates where the reference
            (Betti-Matching-3D) places the birth and the death of each unmatched feature of the prediction; with
            26/8-connectivity the reference's coordinates in the zero-padded grid, shifted back and clipped to it.
        target_births, target_deaths: the same for the target.
    """

    connectivity: int
    matched: np.ndarray
    unmatched_pred: np.ndarray
    unmatched_target: np.ndarray
    pred_births: tuple[np.ndarray, ...]
    pred_deaths: tuple[np.ndarray, ...]
    target_births: tuple[np.ndarray, ...]
    target_deaths: tuple[np.ndarray, ...]

    @property
    def errors(self) -> np.ndarray:
        """Betti matching error per dimension: unmatched features of both (the reference's loss on binary inputs)."""
        return self.unmatched_pred + self.unmatched_target

    @property
    def error(self) -> int:
        """Total Betti matching error (all dimensions)."""
        return int(self.errors.sum())


def _check_pair(pred: np.ndarray, target: np.ndarray, connectivity: Connectivity) -> tuple[np.ndarray, np.ndarray, str]:
    p = check_binary_mask(pred, "pred")
    t = check_binary_mask(target, "target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target must have the same shape, got {p.shape} and {t.shape}.")
    return p, t, resolve_connectivity(connectivity, p.ndim)


def _value0_sets(p: np.ndarray, t: np.ndarray, construction: str) -> tuple[np.ndarray, np.ndarray]:
    """The voxels the reference adds first: the foreground (V-construction), or the zero-padded background (T)."""
    if construction == "V":
        return p, t
    return ~np.pad(p, 1), ~np.pad(t, 1)


def betti_matching(pred: np.ndarray, target: np.ndarray, connectivity: Connectivity = None) -> BettiMatching:
    """Betti matching of two binary 2D/3D masks, exactly as Betti-Matching-3D (Stucki et al.) computes it.

    The reference computes the sublevel persistence of ``1 - mask`` (V-construction: foreground 6/4-connected),
    matches the features of ``pred`` and ``target`` through their pointwise minimum by induced matchings, and
    reports finite pairs only. With the default 26/8-connectivity (T-construction) the reference is applied to the
    zero-padded masks themselves (the Alexander dual: the background's features, dimensions reversed), so that
    every foreground feature is a finite pair. The result, counts and coordinates, equals the reference's; its
    cost is linear in the number of voxels (connected-component labels, union-find sweeps over the surface of the
    masks, and linking numbers of one loop per tunnel).

    Args:
        pred: binary 2D or 3D prediction (bool or 0/1 values; threshold probabilities first).
        target: binary target of the same shape.
        connectivity: foreground connectivity: ``None``/8/26 (T-construction, default) or 4/6 (V-construction).

    Returns:
        a :class:`BettiMatching` record.

    Raises:
        TypeError / ValueError: for non-binary or non-finite values, arrays that are not 2D/3D, empty arrays,
            different shapes or a connectivity that does not fit the number of dimensions.

    Example:
        >>> target = np.zeros((7, 7), bool); target[1:6, 1:6] = True; target[3, 3] = False  # a ring
        >>> pred = target.copy(); pred[3, 3] = True                                          # hole filled
        >>> result = betti_matching(pred, target)
        >>> result.matched.tolist(), result.unmatched_pred.tolist(), result.unmatched_target.tolist()
        ([1, 0], [0, 0], [0, 1])
        >>> result.target_births[1].tolist()  # where the missed hole is
        [[3, 3]]
    """
    p, t, construction = _check_pair(pred, target, connectivity)
    return _matching(p, t, construction, connectivity, with_pairs=True)


def betti_matching_error(pred: np.ndarray, target: np.ndarray, connectivity: Connectivity = None) -> np.ndarray:
    """Betti matching error per homology dimension: unmatched features of ``pred`` plus those of ``target``.

    For binary inputs this is the reference's (Betti-Matching-3D) loss value per dimension. The same as
    ``betti_matching(pred, target, connectivity).errors``, without computing the features' coordinates.

    Args:
        pred: binary 2D or 3D prediction.
        target: binary target of the same shape.
        connectivity: foreground connectivity: ``None``/8/26 (default) or 4/6.

    Returns:
        ``int64`` array of length ``ndim`` (dimensions 0, 1 [, 2]).

    Raises:
        TypeError / ValueError: as :func:`betti_matching`.

    Example:
        >>> a = np.zeros((8, 8, 8), bool); a[1:3, 1:3, 1:3] = True
        >>> b = np.zeros((8, 8, 8), bool); b[5:7, 5:7, 5:7] = True  # the same cube, moved
        >>> betti_matching_error(a, b).tolist()  # 26-connected: two components, neither matched
        [2, 0, 0]
        >>> betti_matching_error(a, a).tolist()
        [0, 0, 0]
    """
    p, t, construction = _check_pair(pred, target, connectivity)
    return _matching(p, t, construction, connectivity, with_pairs=False).errors


def _matching(p: np.ndarray, t: np.ndarray, construction: str, connectivity: Connectivity, with_pairs: bool):
    d = p.ndim
    A0, A1 = _value0_sets(p, t, construction)
    per_dim = _reference_matching(np.ascontiguousarray(A0), np.ascontiguousarray(A1), with_pairs)
    if construction == "T":
        per_dim = per_dim[::-1]  # the background's dimension k is the foreground's d - 1 - k
    matched = np.array([m for m, _, _ in per_dim], np.int64)
    if not with_pairs:
        un0 = np.array([u[0] for _, u, _ in per_dim], np.int64)
        un1 = np.array([u[0] for _, _, u in per_dim], np.int64)
        empty = tuple(np.zeros((0, d), np.int64) for _ in range(d))
        return BettiMatching(foreground_connectivity(connectivity, d), matched, un0, un1, empty, empty, empty, empty)
    grid = A0.shape
    shift = 1 if construction == "T" else 0
    limit = np.array(p.shape, np.int64) - 1

    def coords(flat: np.ndarray) -> np.ndarray:
        return np.clip(_unravel(flat, grid) - shift, 0, limit)

    un0 = np.array([len(u[0]) for _, u, _ in per_dim], np.int64)
    un1 = np.array([len(u[0]) for _, _, u in per_dim], np.int64)
    return BettiMatching(
        foreground_connectivity(connectivity, d),
        matched,
        un0,
        un1,
        tuple(coords(u[0]) for _, u, _ in per_dim),
        tuple(coords(u[1]) for _, u, _ in per_dim),
        tuple(coords(u[0]) for _, _, u in per_dim),
        tuple(coords(u[1]) for _, _, u in per_dim),
    )
