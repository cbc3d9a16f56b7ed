"""``Optimizer``: parameter groups, per-parameter state, ``step``, ``zero_grad``, state dicts.

Each optimizer is a small subclass over one pure update function that works on NumPy
arrays in place (``sgd.py``, ``adam.py``, ...). Optimizers run on every parameter every
step, outside the graph, so they read ``p._data`` and ``p.grad._data`` directly instead
of paying for Tensor ops, and bump the parameter's version counter afterwards as any
in-place op would (a graph that saved the old value then refuses to backward).

State and state dicts use PyTorch's layout and key names, so a checkpoint moves between
the two: ``state`` maps each parameter to a dict of tensors and numbers
(``'step'``, ``'exp_avg'``, ``'momentum_buffer'``, ...); ``state_dict()`` keys that state
by the parameter's index in group order and lists those indices as each group's
``'params'``.
"""

import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from ember import _dtype
from ember._cpu_share import poll as poll_cpu_share
from ember._errors import type_error, value_error
from ember._first_collection import after_first_step
from ember.autograd.grad_mode import enable_grad
from ember.backend import step_tuner
from ember.nn.module import _Handle
from ember.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of an option every parameter group must set itself (SGD's old ``lr``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _hooked(step):
    """Wrap a ``step`` so the optimizer's step pre- and post-hooks run around it once."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        poll_cpu_share()  # a safe point to change the BLAS thread count
        step_tuner.tick(self)  # and to time the training loop's steps
        for hook in list(self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of "
                                       f"(new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        self._opt_called = True  # lets a scheduler warn when it steps before the optimizer
        for hook in list(self._optimizer_step_post_hooks.values()):
            hook(self, args, kwargs)
        after_first_step()
        return out

    wrapper.hooked = True
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each holding
            ``'params'`` and the options that differ from ``defaults`` for that group.
        defaults: the options of every group that does not set them itself.

    Subclasses written PyTorch's way override ``step``; the built-in ones implement
    ``_update(p, grad, group)`` on arrays and inherit ``step``.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._in_step = False
        if isinstance(params, Tensor):
            raise type_error("Optimizer", "params argument given to the optimizer should be "
                             "an iterable of Tensors or dicts, but got a Tensor")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise value_error("Optimizer", "optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked(step)

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"

    # ---- parameter groups -------------------------------------------------------------

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (fine-tuning unfrozen layers).

        Args:
            param_group: a dict with ``'params'`` (a tensor or a list of tensors, or of
                ``(name, tensor)`` pairs) and any options that differ from the defaults.
        """
        if not isinstance(param_group, dict):
            raise type_error("add_param_group",
                             f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise type_error("add_param_group", "optimizer parameters need to be organized in "
                             "ordered collections, but the ordering of tensors in sets will "
                             "change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise value_error("add_param_group", "all optimizer params should be "
                                  "with/without names. Some param names are missing")
            param_group["param_names"] = names
        _check_params(params, self.defaults.get("differentiable"))
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise value_error("add_param_group", "parameter group didn't specify a value "
                                  f"of required optimization parameter {name}")
            param_group.setdefault(name, default)
        self._check_disjoint(param_group)
        self.param_groups.append(param_group)

    def _check_disjoint(self, param_group):
        params = param_group["params"]
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise value_error("add_param_group", "all optimizer param groups should be "
                                  f"with/without names. cannot add param group {which} "
                                  "to the optimizer")
            if any(id(p) in ids for p in group["params"]):
                raise value_error("add_param_group",
                                  "some parameters appear in more than one parameter group")

    # ---- stepping ---------------------------------------------------------------------

    @_hooked
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns the closure's loss, if given.

        Args:
            closure: a callable that clears the gradients, recomputes the loss, calls
                ``backward`` and returns the loss; it runs with gradients enabled.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad._data, group)
                    p._vbox[0] += 1
        return loss

    def _update(self, p, grad, group):
        """Apply one step of this optimizer's rule to parameter ``p`` (arrays, in place)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set them to ``None`` (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                grad.detach_()
                if grad._data.flags.writeable:
                    grad._data[...] = 0
                else:
                    grad._data = np.zeros_like(grad._data)

    # ---- hooks ------------------------------------------------------------------------

    def register_step_pre_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` before each ``step``; it may return new
        ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
        return _Handle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _Handle(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` before ``state_dict`` builds the dict."""
        return _Handle(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)``; a returned dict replaces the state dict."""
        return _Handle(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` first; a returned dict is loaded instead."""
        return _Handle(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` after ``load_state_dict``."""
        return _Handle(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- state dicts ------------------------------------------------------------------

    def state_dict(self):
        """The state as ``{'state': {index: {...}}, 'param_groups': [{..., 'params': [...]}]}``.

        Parameters are replaced by their index in group order; the state's tensors are
        the optimizer's own (not copies), as in PyTorch.
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a state dict made by ``state_dict()`` (ember's or PyTorch's layout).

        The groups must match this optimizer's in number and size; state tensors are
        copied, floating ones cast to their parameter's dtype (``'step'`` kept as is).
        Integer keys may arrive as strings (``"0"``), as a JSON round trip leaves them.
        """
        state_dict = dict(state_dict)
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        _check_groups_match(groups, saved_groups)
        id_map = dict(zip(chain.from_iterable(_keys(s["params"]) for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(_key(key))
            if param is None:  # state of no parameter: kept as it is, as PyTorch does
                state[key] = value
            else:
                state[param] = {k: _cast(param, v, k) for k, v in value.items()}
        new_groups = [_restore_group(g, s) for g, s in zip(groups, saved_groups)]
        self.state, self.param_groups = state, new_groups
        self._setstate_defaults()
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    def _setstate_defaults(self):
        """Fill options an older state dict lacks with this optimizer's defaults."""
        for group in self.param_groups:
            for name, default in self.defaults.items():
                if default is not required:
                    group.setdefault(name, default)


def _check_groups_match(groups, saved_groups):
    if len(groups) != len(saved_groups):
        raise value_error("load_state_dict",
                          "loaded state dict has a different number of parameter groups")
    if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
        raise value_error("load_state_dict", "loaded state dict contains a parameter group "
                          "that doesn't match the size of optimizer's group")


def _restore_group(group, saved):
    """The saved group's options (copied) around this optimizer's own parameters."""
    new = {k: _copy_value(v) for k, v in saved.items() if k != "params"}
    new["params"] = group["params"]
    if "param_names" in group and "param_names" not in new:
        new["param_names"] = group["param_names"]
    return new


def _check_params(params, differentiable):
    for p in params:
        if not isinstance(p, Tensor):
            raise type_error("Optimizer", "optimizer can only optimize Tensors, but one of the "
                             f"params is {type(p).__module__}.{type(p).__name__}")
        if not differentiable and not (p.is_leaf or p.retains_grad):
            raise value_error("Optimizer", "can't optimize a non-leaf Tensor")


def _key(key):
    """A saved parameter index as an int, also when a JSON round trip made it a string."""
    return int(key) if isinstance(key, str) and key.isdigit() else key


def _keys(keys):
    return [_key(k) for k in keys]


def _cast(param, value, key=None):
    """A copy of a saved state value; floating tensors take the parameter's dtype."""
    if isinstance(value, Tensor):
        if key == "step" or not param.is_floating_point():
            return Tensor._make(np.array(value._data))
        return Tensor._make(np.array(value._data, dtype=param._data.dtype))
    if key == "step" and isinstance(value, (int, float)):
        return _step_tensor(value)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


def _copy_value(value):
    """A copy of a saved group option (lists and tensors copied, numbers as they are)."""
    if isinstance(value, Tensor):
        return Tensor._make(np.array(value._data))
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_value(v) for v in value)
    return value


# ---- helpers the built-in optimizers share ------------------------------------------------


def _step_tensor(value=0.0):
    """A 0-dim step counter: float32, or float64 when that is the default dtype (PyTorch's)."""
    default = _dtype.get_default_dtype().np
    return Tensor._make(np.array(value, dtype=np.float64 if default == np.float64 else np.float32))


def _next_step(state):
    """Advance ``state['step']`` by one in place and return its new value as a float."""
    step = state["step"]
    if not isinstance(step, Tensor):  # a plain number, e.g. from a hand-written state dict
        step = state["step"] = _step_tensor(step)
    step._data[()] += 1  # NumPy's scalar arithmetic: several times a 0-dim ufunc's speed
    return float(step._data)


def _zeros_like(p, fill=0.0):
    """A state buffer the shape, dtype and layout of parameter ``p``."""
    data = np.zeros_like(p._data) if fill == 0 else np.full_like(p._data, fill)
    return Tensor._make(data)


def _check_nonnegative(op, **options):
    """Raise PyTorch's ``Invalid learning rate: -1`` for any option below zero."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for name, value in options.items():
        if _as_float(value) < 0:
            raise value_error(op, f"Invalid {labels.get(name, name + ' value')}: {value}")


def _as_float(value):
    """An option that may be a 1-element tensor (``lr=ember.tensor(0.1)``) as a float."""
    return float(value._data) if isinstance(value, Tensor) else value


def _effective_grad(param, grad, weight_decay, maximize):
    """The gradient the rule uses: ``g = ±grad + weight_decay * param``.

    ``grad`` itself is never written to (it may be shared or a broadcast view); a new
    array is made only when the result differs from it.
    """
    if weight_decay != 0:
        out = np.multiply(param, weight_decay)
        return np.subtract(out, grad, out=out) if maximize else np.add(out, grad, out=out)
    return np.negative(grad) if maximize else grad


def _lerp_(start, end, weight, scratch):
    """``start += weight * (end - start)`` in place, rounded the way PyTorch's lerp is."""
    np.subtract(end, start, out=scratch)
    if abs(weight) < 0.5:
        np.multiply(scratch, weight, out=scratch)
        np.add(start, scratch, out=start)
    else:
        np.multiply(scratch, 1 - weight, out=scratch)
        np.subtract(end, scratch, out=start)
