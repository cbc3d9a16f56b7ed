"""The zoo's PyTorch twins (tests/models' references) in small configurations, exported
with PyTorch's own ONNX exporters for the import tests.

Two changes make the exported files a fair test. Small parameters and running statistics
are perturbed, so no two initializers are equal (the TorchScript exporter merges equal ones
into one, which would tie parameters together) and batch norms do not reduce to the
identity. AlexNet and VGG keep their layers but get a narrow classifier: the 4096-wide
ones hold 60-120 million weights, which the operator coverage does not need.
"""

import io
import warnings

import numpy as np
import torch
from torch import nn

import ember
from ember import models
from tests.models import reference as ref
from tests.models import reference_inception as ref_inception
from tests.models import reference_lm as ref_lm


def _narrow_classifier(features):
    return nn.Sequential(nn.Dropout(), nn.Linear(features, 32), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(32, 24), nn.ReLU(True), nn.Linear(24, 10))


def _alexnet():
    model = ref.AlexNet(num_classes=10)
    model.classifier = _narrow_classifier(256 * 6 * 6)
    return model


def _vgg11_bn():
    # VGG-11's layer pattern with fewer channels: 112 / 2**4 leaves the 7x7 map VGG's
    # adaptive pooling expects (the TorchScript exporter needs a multiple of it).
    model = ref.VGG(ref.vgg_layers([8, "M", 16, "M", 32, 32, "M", 512, "M"], True))
    model.classifier = _narrow_classifier(512 * 7 * 7)
    return model


def _tokens(vocab, shape):
    return torch.tensor(np.random.default_rng(0).integers(0, vocab, shape))


def _images(shape):
    return torch.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


# name -> (build the torch model, its input)
ZOO = {
    "lenet5": (ref.LeNet5, lambda: _images((2, 1, 28, 28))),
    "alexnet": (_alexnet, lambda: _images((1, 3, 224, 224))),
    "vgg11_bn": (_vgg11_bn, lambda: _images((1, 3, 112, 112))),
    "resnet8": (lambda: ref.CifarResNet(1), lambda: _images((2, 3, 32, 32))),
    "resnet18": (lambda: ref.ResNet(ref.BasicBlock, [2, 2, 2, 2], num_classes=10),
                 lambda: _images((1, 3, 32, 32))),
    "mobilenet_v2": (lambda: ref.MobileNetV2(num_classes=10, width_mult=0.35),
                     lambda: _images((1, 3, 32, 32))),
    "inception_v3": (lambda: ref_inception.Inception3(num_classes=10, aux_logits=False,
                                                      init_weights=False),
                     lambda: _images((1, 3, 75, 75))),
    "char_lstm": (lambda: ref_lm.CharLSTM(11, embed_dim=6, hidden_size=9, num_layers=2),
                  lambda: _tokens(11, (3, 7))),
    "gpt": (lambda: ref_lm.GPT(13, max_len=8, d_model=12, n_heads=3, n_layers=2, d_ff=20),
            lambda: _tokens(13, (3, 8))),
}


@torch.no_grad()
def perturb(model, seed=0):
    """Distinct values in every parameter and batch-norm statistic.

    Only the small tensors need it (biases and norm weights start as zeros and ones);
    the large ones are random already, and Inception's 24 million weights cost seconds.
    """
    g = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if p.numel() <= 10_000:
            p.mul_(1 + 0.2 * torch.randn(p.shape, generator=g)).add_(
                0.02 * torch.randn(p.shape, generator=g))
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model


def build(name, seed=0):
    """The torch model ``name`` in eval mode, perturbed, and its example input."""
    make, make_input = ZOO[name]
    torch.manual_seed(seed)
    return perturb(make().eval(), seed), make_input()


def export(model, example, exporter="torchscript", **kwargs):
    """The ONNX file's bytes, from ``torch.onnx.export`` with the chosen exporter."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=17,
                              **kwargs)
        else:
            program = torch.onnx.export(model, (example,), dynamo=True, verbose=False,
                                        **kwargs)
            program.model_proto  # noqa: B018  (built lazily; fail here if it cannot be)
            buffer.write(program.model_proto.SerializeToString())
    return buffer.getvalue()


def torch_outputs(model, example):
    """The model's outputs as a flat list of arrays (nested tuples flattened)."""
    with torch.no_grad():
        out = model(example)
    flat, stack = [], [out]
    while stack:
        item = stack.pop(0)
        if isinstance(item, (tuple, list)):
            stack = list(item) + stack
        else:
            flat.append(item.numpy())
    return flat


def ember_twin(name):
    """An ember zoo model (eval mode, seeded) and an input, for round trips."""
    ember.manual_seed(0)
    if name == "lenet5":
        return models.lenet5().eval(), ember.tensor(_images((2, 1, 28, 28)).numpy())
    model = models.CharLSTM(11, embed_dim=6, hidden_size=9, num_layers=2).eval()
    return model, ember.tensor(_tokens(11, (3, 7)).numpy())
