"""Generic checks over the op table: forward and gradients against PyTorch, and
first- and second-order numerical gradient checks."""

import numpy as np
import pytest
import torch

import ember
from tests.ops.harness import assert_close, make_arrays, outputs_of, to_lib
from tests.ops.harness import F
from tests.ops.op_table import CASE_IDS, CASES


def _has_float_input(case):
    return any(isinstance(x, F) or (isinstance(x, tuple) and all(isinstance(s, int) for s in x))
               for x in case)


def _where(keep):
    """The table's cases that a check applies to, with their ids (no skipped tests)."""
    chosen = [(c, k) for c, k in zip(CASES, CASE_IDS) if keep(*c)]
    return [c for c, _ in chosen], [k for _, k in chosen]


GRAD = _where(lambda spec, i: spec.grad and _has_float_input(spec.cases[i]))
FIRST = _where(lambda spec, i: spec.grad and spec.gradcheck and _has_float_input(spec.cases[i]))
SECOND = _where(lambda spec, i: spec.grad and spec.gradgradcheck
                and _has_float_input(spec.cases[i]))


def _seed(spec, i):
    return (sum(map(ord, spec.name)) * 1000 + i) % (2 ** 32)


@pytest.mark.parametrize("spec,i", CASES, ids=CASE_IDS)
def test_forward_matches_torch(spec, i):
    arrays = make_arrays(spec.cases[i], _seed(spec, i))
    runs = [(np.float64, spec.atol, spec.rtol)]
    if spec.float32:
        runs.append((np.float32, spec.atol32, spec.rtol32))
    for dtype, atol, rtol in runs:
        mine = outputs_of(spec.fn(ember, *to_lib(ember, arrays, dtype, requires_grad=False)))
        ref = outputs_of(spec.fn(torch, *to_lib(torch, arrays, dtype, requires_grad=False)))
        assert len(mine) == len(ref), f"{spec.name}: {len(mine)} outputs, PyTorch {len(ref)}"
        for k, (m, r) in enumerate(zip(mine, ref)):
            assert_close(m, r, atol, rtol, f"{spec.name} case {i} output {k} ({dtype.__name__})")
            if isinstance(r, torch.Tensor):
                assert str(m.dtype).split(".")[-1] == str(r.dtype).split(".")[-1], (
                    f"{spec.name}: dtype {m.dtype} != PyTorch's {r.dtype}")


def _differentiable(outs, spec):
    idx = spec.outputs if spec.outputs is not None else range(len(outs))
    return [outs[k] for k in idx if outs[k].is_floating_point() and outs[k].requires_grad]


@pytest.mark.parametrize("spec,i", GRAD[0], ids=GRAD[1])
def test_gradients_match_torch(spec, i):
    arrays = make_arrays(spec.cases[i], _seed(spec, i))
    e_in, t_in = to_lib(ember, arrays), to_lib(torch, arrays)
    e_floats = [t for t in e_in if isinstance(t, ember.Tensor) and t.requires_grad]
    t_floats = [t for t in t_in if isinstance(t, torch.Tensor) and t.requires_grad]
    assert e_floats, f"{spec.name}: a gradient case needs a float input"
    e_outs = _differentiable(outputs_of(spec.fn(ember, *e_in)), spec)
    t_outs = _differentiable(outputs_of(spec.fn(torch, *t_in)), spec)
    assert len(e_outs) == len(t_outs), f"{spec.name}: differentiable outputs differ"
    rng = np.random.default_rng(_seed(spec, i) + 1)
    ups = [rng.standard_normal(tuple(o.shape)) for o in t_outs]
    e_grads = ember.autograd.grad(e_outs, e_floats, [ember.from_numpy(u) for u in ups],
                                  allow_unused=True)
    t_grads = torch.autograd.grad(t_outs, t_floats, [torch.from_numpy(u) for u in ups],
                                  allow_unused=True)
    for k, (g, r) in enumerate(zip(e_grads, t_grads)):
        shape = tuple(t_floats[k].shape)
        g = np.zeros(shape) if g is None else g
        r = np.zeros(shape) if r is None else r
        assert_close(g, r, spec.atol * 10, spec.rtol * 10, f"{spec.name} case {i} grad {k}")


def _float_fn(spec, e_in):
    slots = [k for k, t in enumerate(e_in) if isinstance(t, ember.Tensor) and t.requires_grad]

    def fn(*floats):
        args = list(e_in)
        for k, f in zip(slots, floats):
            args[k] = f
        outs = outputs_of(spec.fn(ember, *args))
        return tuple(_differentiable(outs, spec))

    return fn, [e_in[k] for k in slots]


@pytest.mark.parametrize("spec,i", FIRST[0], ids=FIRST[1])
def test_gradcheck(spec, i):
    arrays = make_arrays(spec.cases[i], _seed(spec, i))
    fn, floats = _float_fn(spec, to_lib(ember, arrays))
    assert floats, f"{spec.name}: a gradient case needs a float input"
    assert ember.testing.gradcheck(fn, floats, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("spec,i", SECOND[0], ids=SECOND[1])
def test_gradgradcheck(spec, i):
    arrays = make_arrays(spec.cases[i], _seed(spec, i))
    fn, floats = _float_fn(spec, to_lib(ember, arrays))
    assert floats, f"{spec.name}: a gradient case needs a float input"
    assert ember.testing.gradgradcheck(fn, floats, atol=1e-4, rtol=1e-3)
