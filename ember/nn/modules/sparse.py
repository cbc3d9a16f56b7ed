"""Lookup tables: ``Embedding`` and ``EmbeddingBag``."""

from ember.autograd.grad_mode import no_grad
from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


def _check_padding_idx(padding_idx, num_embeddings, name="Padding_idx"):
    """``padding_idx`` made non-negative (``-1`` is the last row)."""
    if padding_idx is None:
        return None
    if padding_idx >= num_embeddings or padding_idx < -num_embeddings:
        raise AssertionError(f"{name} must be within num_embeddings")
    return padding_idx % num_embeddings


def _table(num_embeddings, embedding_dim, given, device, dtype):
    """``(weight, fresh)``: the given weight checked, or a new one to initialize."""
    if given is None:
        return empty((num_embeddings, embedding_dim), device=device, dtype=dtype), True
    if list(given.shape) != [num_embeddings, embedding_dim]:
        raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
    return given, False


class _Lookup(Module):
    def reset_parameters(self):
        """Weight from N(0, 1), with the ``padding_idx`` row zero."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def _options_repr(self):
        s = ""
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s


class Embedding(_Lookup):
    """A table of ``num_embeddings`` vectors; ``forward(indices)`` looks rows up.

    Args:
        num_embeddings: the number of rows.
        embedding_dim: the size of each row.
        padding_idx: this row starts at zero and gets no gradient (a negative index counts
            from the end).
        max_norm: rows looked up whose ``norm_type``-norm exceeds it are rescaled to it,
            in place.
        norm_type: the p of that norm.
        scale_grad_by_freq: divide each row's gradient by its count in the batch.
        sparse: accepted; the gradient is always dense.
        device, dtype: where and in which dtype the weight is made (CPU only).

    Attributes:
        weight: ``(num_embeddings, embedding_dim)`` from N(0, 1).

    Example:
        >>> import ember
        >>> Embedding(10, 3, padding_idx=0)(ember.tensor([[0, 2], [4, 9]])).shape
        ember.Size([2, 2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _check_padding_idx(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        weight, fresh = _table(num_embeddings, embedding_dim, _weight, device, dtype)
        self.weight = Parameter(weight, requires_grad=not _freeze)
        if fresh:
            self.reset_parameters()
        self.sparse = sparse

    def forward(self, input):  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        s += self._options_repr()
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An ``Embedding`` whose weight is ``embeddings`` (shared, not copied).

        Args:
            embeddings: a 2-D tensor ``(num_embeddings, embedding_dim)``.
            freeze: the weight gets no gradient (``requires_grad=False``).
            padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse: as the
                constructor's (the ``padding_idx`` row is not zeroed).

        Example:
            >>> import ember
            >>> e = Embedding.from_pretrained(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> e(ember.tensor([1])).tolist(), e.weight.requires_grad
            ([[3.0, 4.0]], False)
        """
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings, _freeze=freeze,
                   padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(_Lookup):
    """Sums, means or maxima of bags of embeddings, without building the looked-up rows.

    ``forward(input, offsets=None, per_sample_weights=None)``: bags are the rows of a 2-D
    ``input``, or the slices of a 1-D ``input`` starting at each of ``offsets``.

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, sparse,
            padding_idx, device, dtype: as ``Embedding``'s.
        mode: ``'sum'``, ``'mean'`` or ``'max'``.
        include_last_offset: ``offsets`` has one more entry, the end of the last bag.

    Example:
        >>> import ember
        >>> bag = EmbeddingBag(10, 3, mode="sum")
        >>> bag(ember.tensor([1, 2, 4, 5, 4, 3]), ember.tensor([0, 4])).shape
        ember.Size([2, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _check_padding_idx(padding_idx, num_embeddings, "padding_idx")
        weight, fresh = _table(num_embeddings, embedding_dim, _weight, device, dtype)
        self.weight = Parameter(weight)
        if fresh:
            self.reset_parameters()
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def forward(self, input, offsets=None, per_sample_weights=None):  # noqa: A002
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}" + self._options_repr()
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An ``EmbeddingBag`` whose weight is ``embeddings`` (shared); see
        ``Embedding.from_pretrained``."""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings,
                  max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  include_last_offset=include_last_offset, padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
