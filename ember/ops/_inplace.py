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

NOTE [in-place without a snapshot]: the snapshot and the copy back cost two passes over
``x`` on top of the op's own. An op that keeps nothing of ``x``'s old values for backward
needs no snapshot (``overwrite``): ``relu_``, whose backward needs only its output's sign,
writes into ``x``'s memory directly, one pass instead of three, and so does ``add_``
(``Add`` saves nothing; ``Add(into=True)`` adds in ``x``'s memory). A saved output then *is* ``x``, so the node's saved entry is rebound to ``x``'s
version counter, and writing to ``x`` later makes backward raise, as PyTorch does for
``relu_``. Graph capture (``ember.jit``) and views of a base that requires grad keep the
general path.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers
from ember.tensor import Tensor

_make = Tensor._make


def apply_inplace(name, fn, self, *args, **kwargs):
    """``self`` overwritten by ``fn(self, *args, **kwargs)``; returns ``self``."""
    direct = _direct_form(fn)
    if direct is not None and not kwargs:
        done = direct(name, self, *args)
        if done is not None:
            return done
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


def overwrite(name, apply_into, self, *args):
    """``self`` overwritten by ``apply_into(self, *args)`` without a snapshot, or None.

    ``apply_into`` applies an op to ``self`` that leaves its result in ``self``'s array
    (written there by the op, or copied there after it) and returns the result, and keeps
    nothing of ``self``'s old values for backward: it saves no input 0, at most its output
    (NOTE [in-place without a snapshot]). The op records ``self``'s history as its input's,
    then ``self`` takes the op as its history. Returns None, having done nothing, where the
    caller must take ``apply_inplace``'s general path: graph capture is on, ``self`` is
    read-only, or it is a view of a base that requires grad while recording.
    """
    if not self._data.flags.writeable or (Observers.active and _capturing()):
        return None
    recording = GradMode.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if recording:
        if self._base is not None and self._base._requires_grad:
            return None
        _check_recordable(name, self)
    result = apply_into(self, *args)
    self._vbox[0] += 1
    if recording:
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        self._requires_grad = result._requires_grad
        _saved_output_is(self, result)
    return self


def _capturing():
    """Whether graph capture watches (the profiler, also an observer, needs no snapshot)."""
    return any(hasattr(watcher, "inplace_write") for watcher in Observers.active)


def _saved_output_is(self, result):
    """Rebind ``result``'s node's saved entry of ``result`` (the same array as ``self``'s)
    to ``self``'s version counter, so that a later write to ``self`` is caught."""
    node = result.grad_fn
    saved = getattr(node, "_saved_out", None)  # set by Op._record for ops that save outputs
    if saved:
        node._saved_out = [(self._data, nr, self._vbox, self._vbox[0])
                           if data is result._data else (data, nr, vbox, version)
                           for data, nr, vbox, version in saved]


def _add_into(name, self, other):
    """``self.add_(other)`` without the snapshot when ``other`` is a Tensor of ``self``'s
    float dtype that broadcasts to ``self``'s shape (``Add`` saves nothing); else None."""
    if not isinstance(other, Tensor):
        return None
    a, b = self._data, other._data
    if a.dtype != b.dtype or a.dtype.kind != "f" or not _broadcasts_to(b.shape, a.shape):
        return None
    return overwrite(name, _add_in_place, self, other)


def _add_in_place(self, other):
    from ember.ops.arithmetic import Add  # it imports this module (through _methods)

    return Add.apply(self, other, into=True)


def _broadcasts_to(shape, target):
    """Whether ``shape`` broadcasts to ``target`` itself (not to a larger shape)."""
    if shape == target:
        return True
    if len(shape) > len(target):
        return False
    return all(n in (1, m) for n, m in zip(reversed(shape), reversed(target)))


_DIRECT = {}  # out-of-place function -> its snapshot-free in-place form, filled on first use


def _direct_form(fn):
    """The snapshot-free form (``_add_into``) of the out-of-place ``fn``, or None."""
    if not _DIRECT:
        from ember.ops.arithmetic import add  # it imports this module (through _methods)

        _DIRECT[add] = _add_into
    return _DIRECT.get(fn)


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
