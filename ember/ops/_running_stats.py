"""Running statistics of batch and instance norm, updated in place as PyTorch does."""

__all__ = ["update_running"]


def update_running(running, mean, var, count):
    """PyTorch's running statistics: an exponential average, with the unbiased variance."""
    running_mean, running_var, momentum = running
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += momentum * _per_channel(mean, running_mean)
    if running_var is not None:
        running_var *= 1 - momentum
        running_var += (momentum * count / max(count - 1, 1)) * _per_channel(var, running_var)


def _per_channel(stat, running):
    """``stat`` (batch norm's, per channel; instance norm's, per sample and channel) as a
    per-channel average in ``running``'s shape; batch norm's needs no reduction (9 us of a
    17 us update on (16,) statistics)."""
    if stat.size != running.size:
        stat = stat.reshape(-1, running.size).mean(axis=0)
    return stat.reshape(running.shape)
