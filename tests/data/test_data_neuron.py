"""Synthetic neuron volumes: shapes, dtypes, determinism, label/instance consistency, trees without loops."""

from __future__ import annotations

import numpy as np
import pytest

import monai_topo.data.neuron as neuron
from monai_topo.data import NeuronVolume, make_neuron_volume
from monai_topo.topology import betti_numbers, euler_characteristic

CASES = [
    [{"size": 32, "seed": 0}, (32, 32, 32), (1.0, 1.0, 2.0)],
    [{"size": (40, 36, 24), "seed": 1}, (40, 36, 24), (1.0, 1.0, 2.0)],
    [{"size": 32, "seed": 2, "spacing": (0.5, 0.5, 1.0)}, (32, 32, 32), (0.5, 0.5, 1.0)],
]


@pytest.mark.parametrize("params, shape, spacing", CASES)
def test_shape_dtype_spacing(params, shape, spacing):
    volume = make_neuron_volume(**params)
    assert isinstance(volume, NeuronVolume)
    image, label, instances, sp = volume
    assert image.shape == label.shape == instances.shape == shape
    assert image.dtype == np.float32 and label.dtype == np.uint8 and instances.dtype == np.uint16
    assert sp == spacing
    assert np.isfinite(image).all()
    assert set(np.unique(label).tolist()) <= {0, 1} and label.any()


def test_same_seed_identical_other_seed_different():
    a, b, c = make_neuron_volume(32, seed=5), make_neuron_volume(32, seed=5), make_neuron_volume(32, seed=6)
    for x, y in zip(a[:3], b[:3], strict=True):
        assert x.tobytes() == y.tobytes()
    assert not np.array_equal(a.label, c.label)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("seed", range(5))
def test_instances_cover_label(seed):
    _, label, instances, _ = make_neuron_volume(40, seed=seed)
    np.testing.assert_array_equal(instances > 0, label > 0)
    ids = np.unique(instances[instances > 0])
    assert len(ids) >= 2
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))  # consecutive ids 1..K


def test_fixed_number_of_instances():
    _, _, instances, _ = make_neuron_volume(48, seed=0, num_instances=3, crossing_probability=0.0)
    assert int(instances.max()) == 3


def test_neurites_are_brighter_than_background():
    image, label, _, _ = make_neuron_volume(48, seed=3)
    assert np.median(image[label > 0]) > np.percentile(image[label == 0], 90)


@pytest.mark.parametrize("seed", range(6))
def test_each_tree_alone_is_a_tree(seed):
    """A tree drawn on its own is one component without loops or cavities (the self-avoidance guard)."""
    shape, spacing = (48, 48, 48), np.array([1.0, 1.0, 2.0])
    rng = np.random.default_rng(seed)
    root = rng.uniform(0.3, 0.7, 3) * (np.array(shape) - 1) * spacing
    segments = neuron._grow_tree(rng, root, shape, spacing, 1, (1.0, 3.0), 0.1, 200, None, 0.5)
    label_min_radius = 0.5 * float(np.linalg.norm(spacing)) + 1e-3
    _, owner = neuron._draw_segments(np.asarray(segments), shape, spacing, label_min_radius)
    assert betti_numbers(owner > 0).tolist() == [1, 0, 0]


def test_local_euler_numbers_match_topology_core():
    rng = np.random.default_rng(0)
    for _ in range(30):
        masks = rng.random((2, *rng.integers(1, 7, 3))) < rng.random()
        expected = [euler_characteristic(m) for m in masks]
        assert neuron._euler_numbers(masks).tolist() == expected


@pytest.mark.parametrize(
    "params",
    [
        {"size": 8},
        {"size": (32, 32)},
        {"spacing": (1.0, 0.0, 2.0)},
        {"spacing": (1.0, 1.0)},
        {"radius_range": (3.0, 1.0)},
        {"radius_range": (0.0, 1.0)},
        {"num_instances": 0},
        {"num_instances": (3, 2)},
    ],
)
def test_ill_opts(params):
    with pytest.raises(ValueError):
        make_neuron_volume(**{"size": 32, **params})
