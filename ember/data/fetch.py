"""Fetch: from an index (or a batch of indices) to a collated batch.

The one fetch path: the in-process loader and every worker process call ``fetch`` the
same way, so a batch is the same whichever process builds it.
"""

__all__ = []

MAP, ITERABLE = "map", "iterable"


class _MapDatasetFetcher:
    """``collate_fn([dataset[i] for i in indices])``, or ``collate_fn(dataset[index])``
    without automatic batching."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        getitems = getattr(dataset, "__getitems__", None)
        self._getitems = getitems if callable(getitems) else None

    def fetch(self, possibly_batched_index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[possibly_batched_index])
        if self._getitems is not None:
            return self.collate_fn(self._getitems(possibly_batched_index))
        return self.collate_fn([self.dataset[i] for i in possibly_batched_index])


class _IterableDatasetFetcher:
    """The next ``len(batch)`` samples of the dataset's iterator, collated.

    The "indices" are placeholders that only say how many samples a batch takes. Raises
    StopIteration when the dataset is exhausted (or, with ``drop_last``, when only a
    short batch is left).
    """

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.dataset_iter))
        data = []
        for _ in possibly_batched_index:
            try:
                data.append(next(self.dataset_iter))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
            raise StopIteration
        return self.collate_fn(data)


def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
    """The fetcher for a dataset of ``kind`` (``MAP`` or ``ITERABLE``)."""
    cls = _MapDatasetFetcher if kind == MAP else _IterableDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
