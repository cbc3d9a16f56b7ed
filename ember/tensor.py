"""The Tensor: a NumPy array plus what autograd needs to know about it.

A Tensor holds its values in ``_data`` (a ``numpy.ndarray``, possibly a strided view)
and, when it was computed by a recorded op, the graph node that made it (``grad_fn``)
and which of that node's outputs it is (``_output_nr``). Views share a version
counter with their base (``_vbox``), which in-place ops bump, so that backward can
tell when a value it saved has been overwritten.

The math methods and operators (``x + y``, ``x.sum()``, ``x[idx]``) are attached by
``ember.ops``, which defines every op once; this file holds only the Tensor's own state.
"""

import numpy as np

from ember import _dtype
from ember._errors import runtime_error, shape_error, type_error
from ember.autograd.grad_mode import GradMode

__all__ = ["Tensor", "Size", "device"]


class Size(tuple):
    """A shape: a tuple of ints, as ``x.shape`` and ``x.size()`` return it."""

    __slots__ = ()

    def numel(self):
        """The number of elements a tensor of this shape holds."""
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"ember.Size({list(self)})"


class device:
    """Where a tensor lives. ember computes on the CPU only."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type = type.type
        kind = str(type).split(":")[0]
        if kind != "cpu":
            raise runtime_error("device", f"ember runs on the CPU only, not on {type!r}")
        self.type, self.index = "cpu", None

    def __eq__(self, other):
        return isinstance(other, (device, str)) and str(other).split(":")[0] == "cpu"

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


CPU = device()
_new = object.__new__


class _Engine:
    # ``ember.autograd.engine.backward`` once imported: an import statement costs more
    # than a whole small op, and ``backward`` runs once per step.
    backward = None


class Tensor:
    """An n-dimensional array that can record the ops applied to it for autograd.

    Args:
        *args: a sequence of values (``Tensor([1., 2.])``), or sizes for an
            uninitialized tensor (``Tensor(2, 3)``); the dtype is the default float.

    Example:
        >>> import ember
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __slots__ = (
        "_data", "_requires_grad", "_grad", "grad_fn", "_output_nr", "_vbox",
        "_base", "_hooks", "_retains_grad", "__weakref__",
    )
    # NumPy defers to our reflected operators (ndarray * Tensor -> Tensor.__rmul__).
    __array_ufunc__ = None
    # Hash by identity, in C: the engine keys dicts by tensors, and == is elementwise.
    __hash__ = object.__hash__

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not isinstance(args[0], int):
            data = np.array(args[0], dtype=_dtype.get_default_dtype().np)
        elif all(isinstance(a, int) for a in args):
            data = np.empty(args, dtype=_dtype.get_default_dtype().np)
        else:
            raise type_error("Tensor", f"expected a sequence or sizes, got {args!r}")
        return _init(_new(cls), data)

    @staticmethod
    def _make(data, requires_grad=False, grad_fn=None, output_nr=0):
        """Wrap an ndarray (no copy). The one constructor ops use; keep it cheap."""
        # _init's assignments, inlined: every op output is made here.
        t = _new(Tensor)
        t._data = data
        t._requires_grad = requires_grad
        t._grad = None
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._vbox = [0]
        t._base = None
        t._hooks = None
        t._retains_grad = False
        return t

    # ---- metadata -------------------------------------------------------------------

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape, or the size of one dimension (negative ``dim`` counts from the end)."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._dim(dim, "size")]

    @property
    def dtype(self):
        return _dtype.from_numpy_dtype(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    @property
    def device(self):
        return CPU

    is_cuda = False
    is_sparse = False
    is_quantized = False
    is_meta = False

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_complex(self):
        return False

    def stride(self, dim=None):
        """Strides in elements, as PyTorch counts them (NumPy counts bytes)."""
        item = self._data.itemsize
        strides = tuple(s // item for s in self._data.strides)
        return strides if dim is None else strides[self._dim(dim, "stride")]

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def _dim(self, dim, op):
        n = self._data.ndim
        if not -max(n, 1) <= dim < max(n, 1):
            raise shape_error(op, f"dim {dim} is out of range for a tensor of {n} dimensions")
        return dim % n if n else 0

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        raise runtime_error("cuda", "ember runs on the CPU only")

    # ---- autograd state -------------------------------------------------------------

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording ops on this leaf tensor; returns self."""
        if not requires_grad and self.grad_fn is not None:
            raise runtime_error(
                "requires_grad_",
                "you can only change requires_grad flags of leaf variables; "
                "use .detach() to get a tensor that does not require grad",
            )
        if requires_grad and self._data.dtype.kind != "f":
            raise runtime_error(
                "requires_grad_",
                f"only floating point tensors can require gradients, not {self.dtype}",
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise type_error("grad", f"assigned grad must be a Tensor, not {type(value)}")
            if value._data.shape != self._data.shape:
                raise shape_error(
                    "grad",
                    f"assigned grad has shape {value._data.shape}, "
                    f"but the tensor has shape {self._data.shape}",
                )
        self._grad = value

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise runtime_error("retain_grad",
                                "can't retain_grad on a Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self.grad_fn._add_tensor_hook(self._output_nr, _RetainGrad(self))
            self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new grad.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        if not self._requires_grad:
            raise runtime_error("register_hook", "cannot register a hook on a tensor that "
                                                 "doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        return _HookHandle(self._hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves it depends on.

        Args:
            gradient: d(something)/d(self), same shape; may be omitted for a single element.
            retain_graph: keep saved values for another backward (default: ``create_graph``).
            create_graph: record the backward pass too, for gradients of gradients.
            inputs: accumulate only into these tensors.
        """
        run = _Engine.backward
        if run is None:  # the engine imports this module, so it is imported on first use
            from ember.autograd.engine import backward as run

            _Engine.backward = run
        run((self,), None if gradient is None else (gradient,), retain_graph, create_graph,
            inputs=inputs)

    def detach(self):
        """The same values (shared, no copy) cut from the graph."""
        t = Tensor._make(self._data)
        t._vbox = self._vbox
        t._base = self
        return t

    def detach_(self):
        """Cut this tensor from the graph in place, making it a leaf."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """The values as a tensor outside the graph; assigning replaces them (no version bump)."""
        t = Tensor._make(self._data)
        t._base = self
        return t

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise type_error("data", f"assigned data must be a Tensor, not {type(value)}")
        self._data = value._data

    # ---- conversion -----------------------------------------------------------------

    def numpy(self, force=False):
        """The values as an ndarray sharing memory with this tensor."""
        if self._requires_grad and GradMode.enabled and not force:
            raise runtime_error(
                "numpy",
                "can't call numpy() on a Tensor that requires grad; "
                "use tensor.detach().numpy() instead",
            )
        return self._data

    def __array__(self, dtype=None, copy=None):
        data = self.numpy()
        if dtype is not None and data.dtype != dtype:
            return data.astype(dtype)
        return data.copy() if copy else data

    def __dlpack__(self, *args, **kwargs):
        return self.numpy().__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._data.__dlpack_device__()

    def item(self):
        """The single value as a Python number."""
        if self._data.size != 1:
            raise runtime_error(
                "item", f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def _scalar(self, kind):
        if self._data.size != 1:
            raise runtime_error(
                kind, f"only a tensor with one element can be converted to a Python {kind}"
            )
        return self._data.item()

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __bool__(self):
        if self._data.size != 1:
            raise runtime_error(
                "bool", f"Boolean value of Tensor with {self._data.size} values is ambiguous"
            )
        return bool(self._data.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise type_error("__index__",
                             "only integer tensors of a single element can be an index")
        return int(self._data.item())

    def __complex__(self):
        return complex(self._scalar("complex"))

    def __len__(self):
        if self._data.ndim == 0:
            raise type_error("len", "len() of a 0-d tensor")
        return self._data.shape[0]

    def __deepcopy__(self, memo):
        """A copy with its own memory; only leaves can be copied, as in PyTorch."""
        if self.grad_fn is not None:
            raise runtime_error(
                "deepcopy", "only tensors created explicitly by the user (graph leaves) "
                            "support the deepcopy protocol; use .detach().clone()")
        if id(self) in memo:
            return memo[id(self)]
        new = self._new_like(self._data.copy())
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        return new

    def _new_like(self, data):
        """A leaf of this tensor's class holding ``data`` (subclasses keep their class)."""
        return Tensor._make(data, self._requires_grad)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        from ember._format import format_tensor

        return format_tensor(self)

    __str__ = __repr__

    # ---- factories that keep this tensor's dtype --------------------------------------

    def _like_dtype(self, dtype):
        return self._data.dtype if dtype is None else _dtype.as_dtype(dtype).np

    def new_tensor(self, data, dtype=None, requires_grad=False):
        values = data._data if isinstance(data, Tensor) else data
        return self._new_filled(np.array(values, dtype=self._like_dtype(dtype)), requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False, **_):
        return self._new_filled(np.empty(_sizes(size), self._like_dtype(dtype)), requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False, **_):
        return self._new_filled(np.zeros(_sizes(size), self._like_dtype(dtype)), requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False, **_):
        return self._new_filled(np.ones(_sizes(size), self._like_dtype(dtype)), requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False, **_):
        arr = np.full(_sizes((size,)), fill_value, self._like_dtype(dtype))
        return self._new_filled(arr, requires_grad)

    @staticmethod
    def _new_filled(arr, requires_grad):
        return Tensor._make(arr).requires_grad_(requires_grad)


def _init(t, data):
    t._data = data
    t._requires_grad = False
    t._grad = None
    t.grad_fn = None
    t._output_nr = 0
    t._vbox = [0]
    t._base = None
    t._hooks = None
    t._retains_grad = False
    return t


def _sizes(size):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = size[0]
    return tuple(int(s) for s in size)


class _HookHandle:
    """What ``register_hook`` returns; ``remove()`` takes the hook out again."""

    def __init__(self, hooks, hook):
        self._hooks = hooks
        self._hook = hook
        hooks.append(hook)

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class _RetainGrad:
    """The hook ``retain_grad`` places on a non-leaf tensor's node."""

    def __init__(self, tensor):
        import weakref

        self.ref = weakref.ref(tensor)

    def __call__(self, grad):
        t = self.ref()
        if t is not None:
            # Keep a copy: the engine may still pass this gradient on to other nodes.
            copy = Tensor._make(grad._data.copy())
            t._grad = copy if t._grad is None else Tensor._make(t._grad._data + grad._data)
        return None
