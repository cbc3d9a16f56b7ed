"""Distance layers: ``PairwiseDistance`` and ``CosineSimilarity`` between two inputs."""

from ember.nn import functional as F
from ember.nn.module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` over the last dimension.

    Args:
        p: the norm degree (stored as ``norm``, as PyTorch does).
        eps: added to the difference to avoid a zero norm's undefined gradient.
        keepdim: keep the reduced dimension (of size 1).
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    """``x1 . x2 / max(||x1|| ||x2||, eps)`` along ``dim``.

    Args:
        dim: the dimension along which the similarity is computed.
        eps: a lower bound on the product of the norms.
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)
