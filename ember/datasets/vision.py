"""``VisionDataset``: the part every image dataset shares (transforms, indexing, repr)."""

import operator
import os

from ember._errors import index_error, type_error
from ember.data import Dataset

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """A map-style dataset of ``(image, target)`` pairs, as torchvision's ``VisionDataset``.

    Sample ``i`` is ``(transform(image), target_transform(target))``, where ``image`` is a
    float32 tensor in ``[0, 1]`` and ``target`` a Python int. ember has no image library,
    so a transform takes and returns tensors (torchvision transforms that expect PIL
    images do not apply); ``transform=lambda x: (x - 0.5) / 0.5`` is a typical one.

    Subclasses give ``__len__`` and ``_load(index)``, which returns the untransformed pair
    for a valid, non-negative index.

    Args:
        root: the directory the files were read from (``None`` for bundled data).
        transform: callable applied to each image tensor, or None.
        target_transform: callable applied to each target, or None.
    """

    def __init__(self, root=None, transform=None, target_transform=None):
        self.root = os.fspath(root) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def __getitem__(self, index):
        image, target = self._load(self._check_index(index))
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _load(self, index):
        raise NotImplementedError(f"{type(self).__name__} should implement _load(index)")

    def _check_index(self, index):
        name = type(self).__name__
        try:
            i = operator.index(index)
        except TypeError:
            raise type_error(name, f"indices must be integers, not "
                                   f"{type(index).__name__}") from None
        n = len(self)
        if not -n <= i < n:
            raise index_error(name, f"index {i} is out of range for {n} samples")
        return i % n

    @property
    def class_to_idx(self):
        """``{class name: label}``, as torchvision gives it."""
        return {name: i for i, name in enumerate(self.classes)}

    def extra_repr(self):
        """Extra lines for ``repr`` (subclasses say which split they hold)."""
        return ""

    def __repr__(self):
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        for name in ("transform", "target_transform"):
            if getattr(self, name) is not None:
                lines.append(f"{name}: {getattr(self, name)!r}")
        return "\n".join([f"Dataset {type(self).__name__}"] + ["    " + s for s in lines])
