"""In-place ops (``x.add_(y)``, ``x[i] = v``): write an op's result into ``x``'s memory.

NOTE [in-place and autograd]: the out-of-place op runs first, on a snapshot of ``x``
that keeps ``x``'s history, so that whatever the op saves for backward is the old
value; then the result is copied into ``x``'s array (so views of ``x`` see it), ``x``
takes the op as its new history, and its version counter is bumped. Backward checks
that counter for every tensor it saved, so using a value that was overwritten later
raises instead of giving a silently wrong gradient. Two cases are refused, as in
PyTorch: a leaf that requires grad (its ``.grad`` would be meaningless), and, while
recording, a view whose base requires grad, unless basic indexing made it: then the
new values go into the base and the view is taken again (``y[0] += 1``; see
``write_through_base`` in ``_index_primitives.py``); other views cannot rewrite the
base's history.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers
from ember.tensor import Tensor

_make = Tensor._make


def apply_inplace(name, fn, self, *args, **kwargs):
    """``self`` overwritten by ``fn(self, *args, **kwargs)``; returns ``self``."""
    recording = GradMode.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if not recording:
        result = fn(self, *args, **kwargs)
        _write(name, self, result._data)
        self._vbox[0] += 1
        if Observers.active:
            observe_write(self, result)
        return self
    if self._base is not None and self._base._requires_grad:
        from ember.ops._index_primitives import write_through_base  # it imports this module

        done = write_through_base(name, fn, self, args, kwargs)
        if done is not None:
            return done
    _check_recordable(name, self)
    snapshot = _make(self._data.copy(), self._requires_grad, self.grad_fn, self._output_nr)
    snapshot._vbox = [self._vbox[0]]
    if Observers.active:
        observe_write(snapshot, self)  # the snapshot holds self's current value
    result = fn(snapshot, *args, **kwargs)
    _write(name, self, result._data)
    self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
    self._requires_grad = result._requires_grad
    self._vbox[0] += 1
    if Observers.active:
        observe_write(self, result)
    return self


def observe_write(target, result):
    """Tell graph capture that ``target`` now holds ``result``'s values (``ember.jit``)."""
    for watcher in Observers.active:
        if hasattr(watcher, "inplace_write"):
            watcher.inplace_write(target, result)


def _check_recordable(name, self):
    if self.grad_fn is None and self._requires_grad:
        raise runtime_error(
            name,
            "a leaf Variable that requires grad is being used in an in-place operation; "
            "wrap it in `with ember.no_grad():` (e.g. for initialization) or use the "
            "out-of-place form",
        )
    base = self._base
    if base is not None and base._requires_grad:
        raise runtime_error(
            name,
            "in-place modification of a view of a tensor that requires grad is not "
            "supported; assign through the base instead (x[idx] = value) or use the "
            "out-of-place form",
        )


def _write(name, self, values):
    if values.shape != self._data.shape:
        if np.broadcast_shapes(values.shape, self._data.shape) != self._data.shape:
            raise shape_error(
                name,
                f"output with shape {fmt_shape(self._data.shape)} doesn't match the "
                f"broadcast shape {fmt_shape(np.broadcast_shapes(values.shape, self._data.shape))}",
            )
    if not np.can_cast(values.dtype, self._data.dtype, "same_kind"):
        raise runtime_error(name, f"result type {values.dtype} can't be cast to the desired "
                                  f"output type {self._data.dtype}")
    if not self._data.flags.writeable:
        raise runtime_error(name, "the tensor is a read-only view (made by expand or "
                                  "broadcast_to); call .clone() before writing to it")
    np.copyto(self._data, values, casting="same_kind")
