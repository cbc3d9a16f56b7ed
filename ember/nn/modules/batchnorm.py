"""Batch normalization: ``BatchNorm1d/2d/3d``, with running statistics.

``_NormBase`` holds what batch and instance normalization share: the affine parameters
``weight`` and ``bias``, and the buffers ``running_mean``, ``running_var`` and
``num_batches_tracked`` (an int64 count, used by ``momentum=None``).
"""

from collections import ChainMap

from ember._dtype import int64
from ember.creation import empty, ones, tensor, zeros
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


class _NormBase(Module):
    """Parameters and running statistics of a normalization over channels."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        make = {"device": device, "dtype": dtype}
        self.register_parameter("weight", Parameter(empty(num_features, **make))
                                if affine else None)
        self.register_parameter("bias", Parameter(empty(num_features, **make))
                                if affine and bias else None)
        running = track_running_stats
        self.register_buffer("running_mean", zeros(num_features, **make) if running else None)
        self.register_buffer("running_var", ones(num_features, **make) if running else None)
        self.register_buffer("num_batches_tracked",
                             tensor(0, dtype=int64, device=device) if running else None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches counted."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """Reset the running statistics; weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):  # noqa: A002
        raise NotImplementedError

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # Checkpoints older than num_batches_tracked lack it; PyTorch keeps the current
        # count for them (for any state dict without version metadata) instead of failing.
        key = prefix + "num_batches_tracked"
        if self.num_batches_tracked is not None and key not in state_dict:
            state_dict = ChainMap({key: self.num_batches_tracked}, state_dict)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class _BatchNorm(_NormBase):
    def forward(self, input):  # noqa: A002
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        # Batch statistics in training, and in eval when there are no running ones.
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        # The buffers go in to be updated (training) or used (eval), never otherwise.
        pass_buffers = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if pass_buffers else None,
                            self.running_var if pass_buffers else None, self.weight,
                            self.bias, batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization of ``(N, C)`` or ``(N, C, L)`` inputs over the channels ``C``.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias``, the statistics taken per
    channel over the batch (and length) in training, and from the running statistics in
    eval. Training updates ``running = (1 - momentum) * running + momentum * batch`` (the
    unbiased variance); with ``momentum=None`` the running statistics are the plain
    average of every batch seen (``num_batches_tracked`` counts them).

    Args:
        num_features: the number of channels ``C``.
        eps: added to the variance.
        momentum: the running average's factor, or None for a cumulative average.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep running statistics (else batch statistics always).
        device, dtype: where and in which dtype the parameters are made (CPU only).
        bias: learn ``bias`` (keyword only; with ``affine``).

    Example:
        >>> import ember
        >>> BatchNorm1d(100)(ember.randn(20, 100)).shape
        ember.Size([20, 100])
    """

    def _check_input_dim(self, input):  # noqa: A002
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of ``(N, C, H, W)`` inputs over the channels ``C``.

    Arguments and statistics as ``BatchNorm1d``.

    Example:
        >>> import ember
        >>> BatchNorm2d(3, momentum=None)(ember.randn(4, 3, 5, 5)).shape
        ember.Size([4, 3, 5, 5])
    """

    def _check_input_dim(self, input):  # noqa: A002
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization of ``(N, C, D, H, W)`` inputs; arguments as ``BatchNorm1d``."""

    def _check_input_dim(self, input):  # noqa: A002
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")
