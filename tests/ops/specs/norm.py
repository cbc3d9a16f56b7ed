"""Op specifications: normalization (batch, instance, layer, group, rms)."""

import numpy as np

from tests.ops.harness import Arr, F, Spec

_RUNNING_MEAN = Arr(np.array([0.1, -0.2, 0.3]))
_RUNNING_VAR = Arr(np.array([0.5, 1.5, 2.0]))


def _bn(training, affine=True, running=False, **kw):
    def fn(m, x, *params):
        w, b = params if affine else (None, None)
        rm, rv = (params[-2:] if not affine else ()) if running else (None, None)
        return m.nn.functional.batch_norm(x, rm, rv, w, b, training=training, **kw)
    return fn


def _bn_running(training, **kw):
    def fn(m, x, w, b, rm, rv):
        return m.nn.functional.batch_norm(x, rm, rv, w, b, training=training, **kw)
    return fn


def _layer_norm(shape, **kw):
    return lambda m, x, *p: m.nn.functional.layer_norm(x, shape, *p, **kw)


def _group_norm(groups, **kw):
    return lambda m, x, *p: m.nn.functional.group_norm(x, groups, *p, **kw)


SPECS = [
    Spec("batch_norm_train", _bn(True), [
        [(4, 3), (3,), (3,)],
        [(2, 3, 4), (3,), (3,)],
        [(2, 3, 2, 2), F((3,), 0.5, 2.0), (3,)],
        [F((5, 3), noncontig=True), (3,), (3,)],
    ]),
    Spec("batch_norm_train_plain", _bn(True, affine=False), [[(4, 3)], [(2, 3, 3)]]),
    Spec("batch_norm_train_eps", _bn(True, eps=0.1), [[(3, 2, 2), (2,), (2,)]]),
    Spec("batch_norm_train_running", _bn_running(True, momentum=0.3), float32=False, cases=[
        [(4, 3), (3,), (3,), _RUNNING_MEAN, _RUNNING_VAR],
        [(2, 3, 2), (3,), (3,), _RUNNING_MEAN, _RUNNING_VAR],
    ]),
    Spec("batch_norm_eval", _bn_running(False), float32=False, cases=[
        [(4, 3), (3,), (3,), _RUNNING_MEAN, _RUNNING_VAR],
        [(2, 3, 2, 2), (3,), (3,), _RUNNING_MEAN, _RUNNING_VAR],
        [(2, 3, 2), None, None, _RUNNING_MEAN, _RUNNING_VAR],
    ]),
    Spec("instance_norm", lambda m, x, *p: m.nn.functional.instance_norm(
        x, None, None, *p), [[(2, 3, 4), (3,), (3,)], [(2, 2, 2, 3), (2,), (2,)], [(1, 3, 5)]]),
    Spec("instance_norm_eval", lambda m, x, w, b, rm, rv: m.nn.functional.instance_norm(
        x, rm, rv, w, b, use_input_stats=False), float32=False, cases=
        [[(2, 3, 4), (3,), (3,), _RUNNING_MEAN, _RUNNING_VAR]]),
    Spec("layer_norm", _layer_norm((4,)), [
        [(3, 4), (4,), (4,)],
        [(4,), (4,), (4,)],
        [F((3, 4), noncontig=True), (4,), (4,)],
        [(2, 2, 4)],
    ]),
    Spec("layer_norm_2d", _layer_norm((3, 4)), [[(2, 3, 4), (3, 4), (3, 4)], [(3, 4)]]),
    Spec("layer_norm_weight_only", lambda m, x, w: m.nn.functional.layer_norm(x, [4], w),
         [[(3, 4), (4,)]]),
    Spec("layer_norm_bias_only", lambda m, x, b: m.nn.functional.layer_norm(x, [4], None, b),
         [[(3, 4), (4,)]]),
    Spec("layer_norm_eps", _layer_norm((5,), eps=0.5), [[(2, 5), (5,), (5,)]]),
    Spec("group_norm", _group_norm(2), [
        [(2, 4, 3), (4,), (4,)],
        [(2, 4, 2, 2), F((4,), 0.5, 2.0), (4,)],
        [(3, 4)],
    ]),
    Spec("group_norm_one_group", _group_norm(1), [[(2, 3, 4), (3,), (3,)]]),
    Spec("group_norm_per_channel", _group_norm(3, eps=0.01), [[(2, 3, 4), (3,), (3,)]]),
    Spec("rms_norm", lambda m, x, *p: m.nn.functional.rms_norm(x, (4,), *p), [
        [(3, 4), (4,)],
        [(2, 2, 4)],
        [F((3, 4), noncontig=True), (4,)],
    ]),
    Spec("rms_norm_2d_eps", lambda m, x, w: m.nn.functional.rms_norm(x, [2, 3], w, eps=1e-3),
         [[(2, 2, 3), (2, 3)]]),
]
