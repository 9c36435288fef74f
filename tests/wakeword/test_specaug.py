"""Feature-domain augmentation: each transform does what its name says, to the
windows it picks, and keeps the uint8 range."""

import numpy as np
import pytest

from pocket_agent.models.wakeword import specaug
from pocket_agent.models.wakeword.frontend import N_MEL


def _peaked(band, n=8, T=20):
    """Windows whose spectrum peaks at one band (a formant), on a floor of 40."""
    x = np.full((n, T, N_MEL), 40, np.uint8)
    x[:, :, band] = 200
    x[:, :, band - 1] = x[:, :, band + 1] = 120
    return x


def test_warp_moves_a_formant_and_keeps_timing():
    x = _peaked(16)
    y = specaug.warp(np.random.default_rng(1), x, p=1.0)
    peaks = y.mean(axis=1).argmax(axis=1)
    assert len(set(peaks.tolist())) > 1  # different factors per window
    assert peaks.min() >= 12 and peaks.max() <= 20  # 0.85..1.18 moves it a few bands at most
    assert (y.std(axis=1) == 0).all()  # a constant spectrum stays constant in time


def _apply(x, alpha):
    i0, fr = specaug.warp_table(alpha)
    a, b = x[..., i0].astype(float), x[..., i0 + 1].astype(float)
    return a + (b - a) * fr


def test_warp_table_is_identity_at_one_and_moves_bands_by_the_factor():
    x = np.random.default_rng(0).integers(0, 256, (3, 10, N_MEL)).astype(np.uint8)
    assert np.abs(_apply(x, 1.0) - x).max() < 1e-3
    # a formant at band 16 warped by a: the output band whose centre is a times higher reads it
    for alpha in (0.85, 1.18):
        y = _apply(_peaked(16, n=1), alpha)[0].mean(axis=0)
        expect = specaug._band_of(specaug.CENTRES[16] * alpha)
        assert abs(int(y.argmax()) - expect) <= 0.5, (alpha, y.argmax(), expect)
    assert (np.diff(specaug.CENTRES) > 0).all()


def test_mask_sets_whole_bands_to_the_frame_mean():
    x = np.random.default_rng(6).integers(0, 256, (60, 12, N_MEL)).astype(np.uint8)
    y = specaug.mask(np.random.default_rng(7), x, p=1.0)
    second = 0
    for b in range(len(x)):
        changed = np.flatnonzero((y[b] != x[b]).any(axis=0))
        assert 1 <= len(changed) <= 8 and changed.max() < N_MEL - 1  # the top band is never masked
        first = x[b].mean(axis=1).astype(np.uint8)
        # a second run takes the mean of the frame after the first run (1-4 bands)
        after = set()
        for w in range(1, 5):
            for f0 in range(N_MEL - w):
                once = x[b].copy()
                once[:, f0:f0 + w] = first[:, None]
                after.add(once.mean(axis=1).astype(np.uint8).tobytes())
        for f in changed:
            band = y[b, :, f]
            assert np.array_equal(band, first) or band.tobytes() in after, (b, f)
            second += not np.array_equal(band, first)
    assert second > 0  # both kinds of run were drawn


def test_every_training_choice_keeps_shape_and_dtype():
    x = np.random.default_rng(8).integers(0, 256, (16, 78, N_MEL)).astype(np.uint8)
    for name, f in specaug.AUGMENTS.items():
        y = f(np.random.default_rng(9), x)
        assert y.shape == x.shape and y.dtype == np.uint8, name
        assert not np.array_equal(y, x), name
    assert np.array_equal(specaug.AUGMENTS["mask"](np.random.default_rng(9), x),
                          specaug.mask(np.random.default_rng(9), x))


def test_training_refuses_an_unknown_augmentation(tmp_path):
    from pocket_agent.errors import PocketError
    from pocket_agent.models.wakeword import train

    with pytest.raises(PocketError, match="unknown feature augmentation"):
        train.train("hey pocket", tmp_path / "m.pwm", tmp_path, aug="warp-everything")
    assert not list(tmp_path.iterdir())  # refused before any synthesis


def test_tilt_is_smooth_and_bounded():
    x = np.full((50, 10, N_MEL), 128, np.uint8)
    y = specaug.tilt(np.random.default_rng(2), x, p=1.0).astype(int) - 128
    assert (np.abs(y) <= 9.0 * specaug.UNITS_PER_DB + 1).all()
    assert np.abs(np.diff(y, axis=2)).max() <= 12  # no jumps between neighbouring bands
    assert (np.abs(y).max(axis=(1, 2)) > 3).all()  # every picked window changed


def test_bandlimit_only_lowers_high_bands_to_their_floor():
    rng = np.random.default_rng(3)
    x = rng.integers(60, 220, (40, 30, N_MEL)).astype(np.uint8)
    y = specaug.bandlimit(rng, x, p=1.0)
    low = specaug._band_of(3400.0)
    assert np.array_equal(y[:, :, :int(low)], x[:, :, :int(low)])
    assert (y <= x).all()
    changed = (y != x).any(axis=(1, 2))
    assert changed.mean() > 0.5
    floor = np.percentile(x.astype(float), 5, axis=1)  # per window and band
    assert (y.astype(float) >= np.minimum(floor[:, None, :], x) - 1).all()


def test_unpicked_windows_are_untouched():
    x = np.random.default_rng(4).integers(0, 256, (20, 10, N_MEL)).astype(np.uint8)
    rng = np.random.default_rng(5)
    for f in (specaug.warp, specaug.tilt, specaug.bandlimit, specaug.mask):
        assert np.array_equal(f(rng, x, p=0.0), x)


def test_training_refuses_a_smoothing_window_out_of_range(tmp_path):
    from pocket_agent.errors import PocketError
    from pocket_agent.models.wakeword import train

    with pytest.raises(PocketError, match="smoothing window 0 is out of range"):
        train.train("hey pocket", tmp_path / "m.pwm", tmp_path, smoothing=0)
    assert not list(tmp_path.iterdir())  # refused before any synthesis
