"""The difficulties of real light-sheet data in the built-in neurons: dropouts, varying SNR, touching cells."""

from __future__ import annotations

import numpy as np
import pytest

from monai_topo.data.neuron import _signal_dropouts, make_neuron_volume


def test_dropouts_dim_the_image_not_the_label():
    with_drop = make_neuron_volume(48, seed=3, dropout_probability=1.0, photons=1e6, read_noise=0.0)
    without = make_neuron_volume(48, seed=3, dropout_probability=0.0, photons=1e6, read_noise=0.0)
    np.testing.assert_array_equal(with_drop.label, without.label)  # the annotator traces through the gap
    on = with_drop.label > 0
    assert np.median(with_drop.image[on]) < 0.9 * np.median(without.image[on])


def test_signal_dropout_runs_stay_in_one_tree():
    # 6 segments: tree 1 (3), tree 2 (3); p=1 and thinness 1: a run starts at once and must stop at the tree change
    seg = np.zeros((6, 10))
    seg[:, 3] = 1.0  # non-zero length
    seg[:, 8] = 1.0
    seg[:3, 9], seg[3:, 9] = 1, 2
    runs = _signal_dropouts(seg, np.ones(6), 1.0, np.random.default_rng(0))
    assert runs >= 2 and (seg[:, 8] < 0.26).any()
    assert np.all((seg[:, 8] == 1.0) | (seg[:, 8] <= 0.25))
    trunk = seg.copy()
    trunk[:, 8] = 1.0
    assert _signal_dropouts(trunk, np.zeros(6), 1.0, np.random.default_rng(0)) == 0  # thick: never


def test_snr_varies_between_volumes():
    noise = []
    for seed in range(6):
        v = make_neuron_volume(32, seed=seed, photons=(10.0, 300.0))
        noise.append(float(np.std(v.image[v.label == 0])))
    assert max(noise) > 1.5 * min(noise)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"dropout_probability": 1.5}, "dropout_probability"),
        ({"touch_distance": -1}, "touch_distance"),
        ({"photons": (50.0, 10.0)}, "photons"),
        ({"photons": 0.0}, "photons"),
    ],
)
def test_ill_realism_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_neuron_volume(16, seed=0, **kwargs)
