"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from collections import OrderedDict
from itertools import islice

from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _index(i, n, kind):
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a {kind} of length {n}")
    return i % n


class _ModuleSequence:
    """The list API shared by Sequential and ModuleList (children named "0", "1", ...)."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m
        return self

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module


class Sequential(_ModuleSequence, Module):
    """Modules called one after another: ``Sequential(a, b)(x) == b(a(x))``.

    Also ``Sequential(OrderedDict([("conv", ...), ("relu", ...)]))`` for named children.
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, input):  # noqa: A002
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index(idx, len(keys), "Sequential")]]

    def __setitem__(self, idx, module):
        keys = list(self._modules)
        self.add_module(keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice) else [keys[idx]]):
            del self._modules[key]
        # Keep numeric names contiguous, as PyTorch does.
        items = list(self._modules.items())
        self._modules.clear()
        for i, (name, m) in enumerate(items):
            self._modules[str(i) if name.isdigit() else name] = m

    def __add__(self, other):
        return Sequential(*self, *other)


class ModuleList(_ModuleSequence, Module):
    """A list of modules whose parameters the parent module sees."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        del items[idx]
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList([*self, *other])

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; iterate over it in forward")

    def __repr__(self):
        # Runs of identical children print once, as "(0-3): 4 x Block(...)" (PyTorch's form).
        texts = [repr(m).replace("\n", "\n  ") for m in self]
        if not texts:
            return "ModuleList()"
        lines, start = [], 0
        for i in range(1, len(texts) + 1):
            if i == len(texts) or texts[i] != texts[start]:
                label = f"({start})" if i - start == 1 else f"({start}-{i - 1}): {i - start} x"
                lines.append(f"{label}: {texts[start]}" if i - start == 1
                             else f"{label} {texts[start]}")
                start = i
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class _MemberDict:
    """The dict API over one of a Module's stores (``_modules`` or ``_parameters``)."""

    _store = ""

    def _members(self):
        return getattr(self, self._store)

    def __getitem__(self, key):
        return self._members()[key]

    def __delitem__(self, key):
        del self._members()[key]

    def __len__(self):
        return len(self._members())

    def __iter__(self):
        return iter(self._members())

    def __contains__(self, key):
        return key in self._members()

    def keys(self):
        return self._members().keys()

    def items(self):
        return self._members().items()

    def values(self):
        return self._members().values()

    def pop(self, key):
        return self._members().pop(key)

    def clear(self):
        self._members().clear()

    def update(self, members):
        items = members.items() if hasattr(members, "items") else members
        for key, member in items:
            self[key] = member


class ModuleDict(_MemberDict, Module):
    """A dict of modules whose parameters the parent module sees."""

    _store = "_modules"

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is a container; index it in forward")


class ParameterList(Module):
    """A list of parameters registered with the parent module."""

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(islice(self, *idx.indices(len(self)))))
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx, param):
        self.register_parameter(str(_index(idx, len(self), "ParameterList")), _as_param(param))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __iadd__(self, params):
        return self.extend(params)

    def append(self, value):
        self.register_parameter(str(len(self)), _as_param(value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"({i}): Parameter containing: [{p.dtype!r} of size "
                         f"{tuple(p.shape)}]" for i, p in enumerate(self))


class ParameterDict(_MemberDict, Module):
    """A dict of parameters registered with the parent module."""

    _store = "_parameters"

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, value):
        self.register_parameter(key, _as_param(value))

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter containing: [{p.dtype!r} of size "
                         f"{tuple(p.shape)}]" for k, p in self.items())


def _as_param(value):
    return value if isinstance(value, Parameter) or value is None else Parameter(value)
