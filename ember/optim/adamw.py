"""AdamW: Adam with the weight decay applied to the weights, not added to the gradient."""

from ember.optim.adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019): ``param *= 1 - lr * weight_decay`` before the
    Adam step, so the decay does not pass through the running averages.

    The rule is ``adam_update`` with ``decoupled_weight_decay=True``; the arguments are
    Adam's, with ``weight_decay`` defaulting to 0.01.

    Example:
        >>> import ember
        >>> w = ember.nn.Parameter(ember.tensor([1.0, -2.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([ 0.8500, -1.8000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def _setstate_defaults(self):
        super()._setstate_defaults()
        # A loaded state dict never turns AdamW back into Adam (PyTorch's rule).
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
