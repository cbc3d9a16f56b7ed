"""The ``weights``/``pretrained`` arguments of the model constructors.

torchvision's constructors download pretrained weights when asked. ember never downloads:
a model is built with fresh weights, and trained weights come from a file the user has.
"""

__all__ = []


def refuse_pretrained(name, weights, kwargs):
    """Accept ``weights=None`` and ``pretrained=False``; raise for anything else.

    Args:
        name: the constructor's name, for the message (e.g. ``"resnet18"``).
        weights: the constructor's ``weights`` argument.
        kwargs: the constructor's other keyword arguments; a legacy ``pretrained`` flag
            is removed from them.

    Raises:
        ValueError: pretrained weights were asked for.
    """
    pretrained = kwargs.pop("pretrained", False)
    if weights is None and not pretrained:
        return
    asked = f"weights={weights!r}" if weights is not None else "pretrained=True"
    raise ValueError(
        f"{name}({asked}): ember does not download pretrained weights. Build the model "
        f"with {name}(weights=None) and load a state dict from a file: "
        f"model.load_state_dict(ember.load('{name}.safetensors')). Such a file can be "
        f"written from torchvision with safetensors.torch.save_file(model.state_dict(), "
        f"'{name}.safetensors'); the parameter names are the same.")
