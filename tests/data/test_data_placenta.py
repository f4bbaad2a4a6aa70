"""Synthetic placenta volumes: label topology (1, 0, 0), determinism, shapes, repair of broken masks."""

from __future__ import annotations

import numpy as np
import pytest

import monai_topo.data.placenta as placenta
from monai_topo.data import PlacentaVolume, make_placenta_volume
from monai_topo.data.placenta import PLACENTA_TOPOLOGY
from monai_topo.topology import betti_numbers


@pytest.mark.parametrize("size, seed", [(32, s) for s in range(8)] + [(48, 8), (48, 9), ((40, 32, 36), 10)])
def test_label_is_a_ball(size, seed):
    volume = make_placenta_volume(size, seed=seed)
    assert tuple(betti_numbers(volume.label).tolist()) == PLACENTA_TOPOLOGY == (1, 0, 0)
    assert volume.label.mean() > 0.003  # a real disc, not a speck
    assert np.isfinite(volume.image).all()


def test_shape_dtype_range():
    volume = make_placenta_volume((40, 32, 36), seed=0, spacing=(0.8, 0.8, 0.8))
    assert isinstance(volume, PlacentaVolume)
    image, label, spacing = volume
    assert image.shape == label.shape == (40, 32, 36)
    assert image.dtype == np.float32 and label.dtype == np.uint8
    assert spacing == (0.8, 0.8, 0.8)
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def test_same_seed_identical_other_seed_different():
    a, b, c = make_placenta_volume(32, seed=3), make_placenta_volume(32, seed=3), make_placenta_volume(32, seed=4)
    assert a.image.tobytes() == b.image.tobytes() and a.label.tobytes() == b.label.tobytes()
    assert not np.array_equal(a.label, c.label)


def test_placenta_is_brighter_than_fluid():
    shape = (48, 48, 48)
    rng = np.random.default_rng(7)
    label, maps = placenta._placenta_geometry(shape, rng)
    image = placenta._render_ultrasound(label, maps, rng, (0.6, 1.1, 1.1))
    fluid = maps["cavity"] & ~label & ~maps["fetus"] & ~maps["reflector"]
    assert np.median(image[label]) > np.median(image[fluid]) + 0.2


def test_extreme_texture_gives_finite_image(monkeypatch):
    """Regression: a texture field far below -1 made the echogenicity negative and the image NaN."""
    shape = (32, 32, 32)
    rng = np.random.default_rng(0)
    label, maps = placenta._placenta_geometry(shape, rng)
    monkeypatch.setattr(placenta, "smooth_random_field", lambda shape, rng, num_waves=3: np.full(shape, -10.0))
    image = placenta._render_ultrasound(label, maps, rng, (0.6, 1.1, 1.1))
    assert np.isfinite(image).all() and image.min() >= 0.0


def test_repair_keeps_largest_component_and_fills_cavities():
    mask = np.zeros((20, 20, 20), bool)
    mask[2:12, 2:12, 2:12] = True
    mask[5:8, 5:8, 5:8] = False  # a cavity
    mask[15:17, 15:17, 15:17] = True  # a small island
    assert betti_numbers(mask).tolist() == [2, 0, 1]
    repaired = placenta._repair(mask)
    assert betti_numbers(repaired).tolist() == [1, 0, 0]
    assert repaired[6, 6, 6] and not repaired[16, 16, 16]


@pytest.mark.parametrize("params", [{"size": 4}, {"spacing": (1.0, -1.0, 1.0)}, {"spacing": (1.0, 1.0)}])
def test_ill_opts(params):
    with pytest.raises(ValueError):
        make_placenta_volume(**{"size": 32, **params})
