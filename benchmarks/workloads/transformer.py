"""``transformer`` (training, 16 sequences, AdamW) and ``infer-transformer`` (one
sequence): a two-layer pre-norm causal transformer over 64 tokens of a 1000-word vocabulary.
"""

from benchmarks.workloads.base import Workload, inference_call, sequence_loss, training_step

VOCAB, WIDTH, LENGTH = 1000, 128, 64


def reference_model(lib):
    """Embedding(1000, 128) + learned positions (64, 128), two pre-norm encoder layers
    (4 heads, feed-forward 512, GELU, dropout 0) under a causal mask, LayerNorm,
    Linear 128→1000, in ``lib``'s nn."""
    nn = lib.nn

    class TinyTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, WIDTH)
            self.positions = nn.Parameter(lib.randn(LENGTH, WIDTH) * 0.02)
            layer = nn.TransformerEncoderLayer(WIDTH, 4, 512, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(WIDTH)
            self.head = nn.Linear(WIDTH, VOCAB)
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(LENGTH))

        def forward(self, tokens):
            x = self.embed(tokens) + self.positions[:tokens.shape[1]]
            x = self.encoder(x, mask=self.mask, is_causal=True)
            return self.head(self.norm(x))

    return TinyTransformer()


def model(framework, lib):
    """The ``transformer`` network for ``framework`` (the same layers in each)."""
    return reference_model(lib)


def train_data(rng):
    """The training inputs and labels, drawn from ``rng``."""
    return {"inputs": rng.integers(0, VOCAB, (16, LENGTH)),
            "targets": rng.integers(0, VOCAB, (16, LENGTH))}


def infer_data(rng):
    """The one inference input, drawn from ``rng``."""
    return {"inputs": rng.integers(0, VOCAB, (1, LENGTH))}


def build_train(framework, lib, arrays):
    """One training step of this workload in ``framework`` (see ``Workload.build``)."""
    net = model(framework, lib)
    optimizer = lib.optim.AdamW(net.parameters(), lr=3e-4, weight_decay=0.01)
    return training_step(lib, net, optimizer, sequence_loss(lib, VOCAB), **arrays)


def build_infer(framework, lib, arrays):
    """One inference call of this workload in ``framework`` (see ``Workload.build``)."""
    return inference_call(lib, model(framework, lib), arrays["inputs"])


WORKLOADS = [
    Workload("transformer", "train", "16 × 64 tokens", train_data, build_train),
    Workload("infer-transformer", "infer", "1 × 64 tokens", infer_data, build_infer),
]
