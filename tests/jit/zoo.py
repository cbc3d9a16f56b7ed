"""The model zoo at test sizes, with example inputs, shared by the ember.jit tests."""

import ember
from ember import models, nn


def small_classifier(model, hidden=16):
    """The zoo's AlexNet and VGG with 16-wide hidden layers instead of 4096 (a 0.5 GB
    file otherwise); the rest of the architecture is theirs."""
    layers = list(model.classifier)
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    for k, i in enumerate(linears):
        layers[i] = nn.Linear(layers[i].in_features if k == 0 else hidden,
                              layers[i].out_features if k == len(linears) - 1 else hidden)
    model.classifier = nn.Sequential(*layers)
    return model


def zoo():
    """``{name: (model, example input)}`` for every model of ``ember.models``."""
    ember.manual_seed(0)
    return {
        "lenet5": (models.lenet5(), ember.randn(2, 1, 28, 28)),
        "resnet8": (models.resnet8(), ember.randn(2, 3, 32, 32)),
        "mobilenet_v2": (models.mobilenet_v2(num_classes=10, width_mult=0.35),
                         ember.randn(1, 3, 64, 64)),
        "alexnet": (small_classifier(models.alexnet(num_classes=10)),
                    ember.randn(1, 3, 96, 96)),
        "vgg11": (small_classifier(models.vgg11(num_classes=10)), ember.randn(1, 3, 32, 32)),
        "inception_v3": (models.inception_v3(aux_logits=False, init_weights=False,
                                             num_classes=10), ember.randn(1, 3, 80, 80)),
        "gpt": (models.gpt(vocab_size=50, max_len=16, d_model=32, n_heads=2, n_layers=2,
                           d_ff=64), ember.randint(0, 50, (2, 16))),
        "char_lstm": (models.char_lstm(vocab_size=20, embed_dim=8, hidden_size=16),
                      ember.randint(0, 20, (2, 10))),
    }
