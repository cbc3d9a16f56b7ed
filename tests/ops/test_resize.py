"""Resizing and padding beyond the op table: exact coordinates, dtypes, errors."""

import numpy as np
import pytest
import torch

import ember
from ember.ops import pad, resize

EF, TF = ember.nn.functional, torch.nn.functional

SCALES = [0.3, 0.5, 2 / 3, 0.7, 0.9, 1.1, 1.3, 1.5, 2, 2.1, 2.5, 3, 7 / 3]


def test_names_exist_in_torch():
    for module in (pad, resize):
        for name in module.__all__:
            assert hasattr(torch, name), name
        for name in module.FUNCTIONAL:
            assert hasattr(TF, name), name


def _sweep(x, modes):
    """Every (mode, size or scale) config; x holds each position's coordinates as values."""
    nd = x.ndim - 2
    for mode in modes:
        corners = [None] if mode.startswith("nearest") else [False, True]
        for ac in corners:
            for n_out in range(1, 2 * x.shape[2] + 2):
                yield mode, {"size": (n_out,) + x.shape[3:], "align_corners": ac}
            for s in SCALES:
                if int(x.shape[2] * s) >= 1:
                    sf = (s,) + (1.7,) * (nd - 1)
                    yield mode, {"scale_factor": sf, "align_corners": ac}
                    yield mode, {"scale_factor": sf, "align_corners": ac,
                                 "recompute_scale_factor": True}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_in", [1, 2, 3, 5, 7, 10])
def test_coordinates_match_torch_exactly(dtype, n_in):
    x1 = np.arange(n_in, dtype=dtype).reshape(1, 1, n_in)
    x2 = (np.arange(n_in)[:, None] * 100 + np.arange(3)).astype(dtype).reshape(1, 1, n_in, 3)
    for x, modes in [(x1, ["nearest", "nearest-exact", "linear"]),
                     (x2, ["nearest", "nearest-exact", "bilinear", "bicubic"])]:
        for mode, kw in _sweep(x, modes):
            mine = EF.interpolate(ember.from_numpy(x), mode=mode, **kw).numpy()
            ref = TF.interpolate(torch.from_numpy(x), mode=mode, **kw).numpy()
            assert mine.shape == ref.shape, (mode, kw)
            if mode.startswith("nearest"):
                np.testing.assert_array_equal(mine, ref, err_msg=f"{mode} {kw}")
            else:
                atol = 3e-4 if dtype == np.float32 else 1e-9
                np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=atol, err_msg=f"{mode} {kw}")


def test_unchanged_size_is_a_copy():
    e = ember.randn(1, 2, 3, 4)
    out = EF.interpolate(e, size=(3, 4), mode="bilinear")
    np.testing.assert_array_equal(out.numpy(), e.numpy())
    assert not np.shares_memory(out.numpy(), e.numpy())


def test_interpolate_errors():
    e, t = ember.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    for kw, error in [({}, ValueError), ({"size": 2, "scale_factor": 2}, ValueError),
                      ({"size": 2, "align_corners": True}, ValueError),
                      ({"size": 2, "mode": "linear"}, NotImplementedError),
                      ({"size": 2, "mode": "trilinear"}, NotImplementedError),
                      ({"size": (2, 2, 2)}, ValueError),
                      ({"size": 2, "recompute_scale_factor": True}, ValueError)]:
        with pytest.raises(error):
            TF.interpolate(t, **kw)
        with pytest.raises(error, match="interpolate"):
            EF.interpolate(e, **kw)
    with pytest.raises(RuntimeError, match=r"interpolate: .*\(1, 2, 4, 4\)"):
        EF.interpolate(e, scale_factor=0.1)
    with pytest.raises(NotImplementedError, match="int64"):
        EF.interpolate(ember.zeros(1, 1, 3, dtype=ember.int64), scale_factor=2)
    with pytest.raises(NotImplementedError, match="antialias"):
        EF.interpolate(e, size=2, mode="bilinear", antialias=True)


def test_area_is_adaptive_average_pooling():
    x = np.random.default_rng(0).standard_normal((1, 2, 7, 5))
    mine = EF.interpolate(ember.from_numpy(x), scale_factor=0.5, mode="area")
    ref = TF.interpolate(torch.from_numpy(x), scale_factor=0.5, mode="area")
    np.testing.assert_allclose(mine.numpy(), ref.numpy())


# --------------------------------------------------------------------------- pad

def test_constant_pad_of_integers_truncates_the_value():
    x = np.arange(6).reshape(2, 3)
    mine = EF.pad(ember.from_numpy(x), (1, 2), value=2.7)
    ref = TF.pad(torch.from_numpy(x), (1, 2), value=2.7)
    assert mine.dtype == ember.int64
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_zero_padding_returns_a_new_tensor():
    e = ember.randn(2, 3)
    for mode, amounts in [("constant", (0, 0)), ("reflect", (0, 0)), ("replicate", (-1, 0))]:
        out = EF.pad(e, amounts, mode)
        assert not np.shares_memory(out.numpy(), e.numpy())


def test_crop_then_wrap_like_torch():
    x = np.arange(5.0).reshape(1, 1, 5)
    for mode in ["reflect", "replicate", "circular", "constant"]:
        for amounts in [(2, 1), (-1, 2), (2, -1), (-1, -1), (0, 4), (4, 0)]:
            mine = EF.pad(ember.from_numpy(x), amounts, mode)
            ref = TF.pad(torch.from_numpy(x), amounts, mode)
            np.testing.assert_array_equal(mine.numpy(), ref.numpy(), err_msg=f"{mode} {amounts}")


@pytest.mark.parametrize("call,error", [
    (lambda m, x: m.nn.functional.pad(x, (1,)), RuntimeError),
    (lambda m, x: m.nn.functional.pad(x, (1, 1) * 5), RuntimeError),
    (lambda m, x: m.nn.functional.pad(x, (-3, -3)), RuntimeError),
    (lambda m, x: m.nn.functional.pad(x, (1, 1), mode="reflect"), NotImplementedError),
    (lambda m, x: m.nn.functional.pad(x[0, 0, 0], (1, 1), mode="circular"),
     NotImplementedError),
    (lambda m, x: m.nn.functional.pad(x[0], (5, 0), mode="reflect"), RuntimeError),
    (lambda m, x: m.nn.functional.pad(x[0], (6, 0), mode="circular"), RuntimeError),
    (lambda m, x: m.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect", value=2.0),
     RuntimeError),
    (lambda m, x: m.nn.functional.pad(x, (1, 1), mode="bogus"), NotImplementedError),
    (lambda m, x: m.nn.functional.pad(x, (1.5, 1)), TypeError),
])
def test_pad_errors(call, error):
    x = np.zeros((2, 3, 4, 5))
    with pytest.raises(error):
        call(torch, torch.from_numpy(x))
    with pytest.raises(error) as info:
        call(ember, ember.from_numpy(x))
    assert "pad" in str(info.value)


def test_pad_error_names_the_shape():
    with pytest.raises(RuntimeError) as info:
        EF.pad(ember.zeros(2, 3, 5), (5, 0), mode="reflect")
    text = str(info.value)
    assert "(2, 3, 5)" in text and "(5, 0)" in text and "test_resize.py" in text
