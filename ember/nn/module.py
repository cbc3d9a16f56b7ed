"""``Module``: state (parameters, buffers, submodules) registered by attribute assignment.

Modules hold state; their math lives in ``ember.nn.functional``. One walker,
``_named_members``, serves ``parameters()``, ``buffers()`` and ``named_modules()``;
``state_dict`` keys are PyTorch's (``"features.0.weight"``), so weights move between
the two frameworks by name.
"""

from collections import OrderedDict, namedtuple

from ember._cpu_share import poll as poll_cpu_share
from ember._dtype import as_dtype, float16, float32, float64
from ember._errors import fmt_shape, runtime_error
from ember.autograd.grad_mode import no_grad
from ember.nn.call_errors import add_module_context
from ember.nn.parameter import Buffer, Parameter
from ember.tensor import Tensor, device

__all__ = ["Module"]

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _Handle:
    """What ``register_*_hook`` returns; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks, hook, prepend=False):
        _Handle._next_id += 1
        self.id, self._hooks = _Handle._next_id, hooks
        hooks[self.id] = hook
        if prepend:
            hooks.move_to_end(self.id, last=False)

    def remove(self):
        self._hooks.pop(self.id, None)


class Module:
    """Base class of every layer and model.

    Subclasses assign parameters, buffers and submodules in ``__init__`` (after calling
    ``super().__init__()``) and define ``forward``; call the module, not ``forward``, so
    hooks run.
    """

    training: bool

    def __init__(self, *args, **kwargs):
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_parameters", OrderedDict())
        set_(self, "_buffers", OrderedDict())
        set_(self, "_non_persistent_buffers", set())
        set_(self, "_modules", OrderedDict())
        set_(self, "_forward_hooks", OrderedDict())
        set_(self, "_forward_pre_hooks", OrderedDict())
        set_(self, "_hook_options", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    # ---- calling -------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        poll_cpu_share()  # a safe point to change the BLAS thread count (ember/_cpu_share.py)
        try:
            if not (self._forward_pre_hooks or self._forward_hooks):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        except Exception as exc:
            add_module_context(exc, self, args, kwargs)  # the path to the failing layer
            raise

    def _call_with_hooks(self, args, kwargs):
        for key, hook in list(self._forward_pre_hooks.items()):
            if self._hook_options.get(key):
                result = hook(self, args, kwargs)
                if result is not None:
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for key, hook in list(self._forward_hooks.items()):
            result = (hook(self, args, kwargs, output) if self._hook_options.get(key)
                      else hook(self, args, output))
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """``hook(module, args)`` before forward; it may return new args."""
        handle = _Handle(self._forward_pre_hooks, hook, prepend)
        self._hook_options[handle.id] = with_kwargs
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """``hook(module, args, output)`` after forward; it may return a new output."""
        handle = _Handle(self._forward_hooks, hook, prepend)
        self._hook_options[handle.id] = with_kwargs
        return handle

    # ---- registration ----------------------------------------------------------------

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign modules before Module.__init__() call")
            self._forget(name)
            self._modules[name] = value
        elif isinstance(value, Buffer):
            self._forget(name)
            self.register_buffer(name, value, persistent=value.persistent)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (ember.nn.Parameter or None expected)")
            params[name] = None
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (ember.nn.Module or None expected)")
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(ember.Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        self.__dict__.pop(name, None)
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add a parameter (or None, for an optional one such as a missing bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (ember.nn.Parameter or None required)")
        self._check_name(name, "parameter")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a tensor that is state but not a parameter (running statistics)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (ember.Tensor or None required)")
        self._check_name(name, "buffer")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Add a submodule under ``name`` (also ``register_module``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if name in self._modules:  # replaced in place: it keeps its position, as in PyTorch
            self._modules[name] = module
            return
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f'{kind} name must be a non-empty string without ".", got {name!r}')

    def get_submodule(self, target):
        """The submodule at a dotted path such as ``"features.0"``."""
        module = self
        for part in target.split(".") if target else ():
            if part not in module._modules:
                raise AttributeError(f"{module._get_name()} has no attribute `{part}`")
            module = module._modules[part]
        return module

    def get_parameter(self, target):
        path, _, name = target.rpartition(".")
        return getattr(self.get_submodule(path), name)

    # ---- traversal -----------------------------------------------------------------

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted name, module)`` for this module and every descendant, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate and self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, store, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and value in seen):
                    continue
                seen.add(value)
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state ---------------------------------------------------------------------

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """Every parameter and persistent buffer by dotted name (sharing memory)."""
        if args:
            destination = args[0]
        destination = OrderedDict() if destination is None else destination
        for name, module in self.named_modules(prefix=prefix.rstrip("."),
                                               remove_duplicate=False):
            module._save_to_state_dict(destination, f"{name}." if name else "", keep_vars)
        return destination

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Returns:
            ``(missing_keys, unexpected_keys)``; with ``strict`` any of them, or a shape
            mismatch, raises a RuntimeError that lists every problem.
        """
        missing, unexpected, errors = [], [], []
        expected = set()
        for name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{name}." if name else ""
            module._load_from_state_dict(state_dict, prefix, {}, strict, missing, unexpected,
                                         errors)
            expected.update(prefix + k for k in module._local_state_keys())
        unexpected.extend(k for k in state_dict if k not in expected)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(
                    f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(
                    f'"{k}"' for k in missing) + ". ")
        if errors:
            raise runtime_error("load_state_dict", f"Error(s) in loading state_dict for "
                                f"{self._get_name()}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    def _local_state_keys(self):
        keys = [k for k, v in self._parameters.items() if v is not None]
        keys += [k for k, v in self._buffers.items()
                 if v is not None and k not in self._non_persistent_buffers]
        return keys

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name in self._local_state_keys():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            _copy_into(self, name, state_dict[key], key, error_msgs)

    # ---- modes and conversions ----------------------------------------------------

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad._data[...] = 0

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self, convert):
        with no_grad():
            for m in self.modules():
                for store in (m._parameters, m._buffers):
                    for t in store.values():
                        if t is not None:
                            new = convert(t)
                            if new is not t:
                                t._data = new._data
                                if t._grad is not None:
                                    t._grad._data = convert(t._grad)._data
        return self

    def to(self, *args, dtype=None, **kwargs):
        """Convert floating parameters and buffers to a dtype; ``to('cpu')`` changes nothing."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                device(a)  # refuses anything but the CPU
            else:
                dtype = a
        if dtype is None:
            return self
        target = as_dtype(dtype)
        return self._apply_to_tensors(
            lambda t: t.to(target) if t.is_floating_point() else t)

    def float(self):
        return self.to(dtype=float32)

    def double(self):
        return self.to(dtype=float64)

    def half(self):
        return self.to(dtype=float16)

    def cpu(self):
        return self

    def cuda(self, device=None):
        raise runtime_error("cuda", "ember runs on the CPU only")

    def share_memory(self):
        return self

    # ---- printing --------------------------------------------------------------------

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The constructor arguments shown in ``repr``; layers override it."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        if not lines:
            return f"{self._get_name()}()"
        if len(lines) == 1 and not self._modules:
            return f"{self._get_name()}({lines[0]})"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


def _copy_into(module, name, value, key, error_msgs):
    target = getattr(module, name)
    if not isinstance(value, Tensor):
        error_msgs.append(f'While copying the parameter named "{key}", expected a Tensor, '
                          f"got {type(value).__name__}.")
        return
    if value.shape != target.shape:
        error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                          f"{fmt_shape(value.shape)} from checkpoint, the shape in current "
                          f"model is {fmt_shape(target.shape)}.")
        return
    with no_grad():
        target.copy_(value)
