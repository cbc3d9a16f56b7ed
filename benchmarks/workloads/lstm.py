"""``lstm``: a character-level LSTM language model on 32 sequences of 64 tokens, Adam."""

from benchmarks.workloads.base import Workload, sequence_loss, training_step

VOCAB = 65


def reference_model(lib):
    """Embedding(65, 64), LSTM(64→256, one layer, batch first), Linear 256→65 on every
    position, in ``lib``'s nn."""
    nn = lib.nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 64)
            self.lstm = nn.LSTM(64, 256, batch_first=True)
            self.head = nn.Linear(256, VOCAB)

        def forward(self, tokens):
            hidden, _ = self.lstm(self.embed(tokens))
            return self.head(hidden)

    return CharLSTM()


def model(framework, lib):
    """The ``lstm`` network for ``framework`` (the same layers in each)."""
    return reference_model(lib)


def data(rng):
    """The inputs and labels, drawn from ``rng``."""
    return {"inputs": rng.integers(0, VOCAB, (32, 64)), "targets": rng.integers(0, VOCAB, (32, 64))}


def build(framework, lib, arrays):
    """One training step of this workload in ``framework`` (see ``Workload.build``)."""
    net = model(framework, lib)
    optimizer = lib.optim.Adam(net.parameters(), lr=2e-3)
    return training_step(lib, net, optimizer, sequence_loss(lib, VOCAB), **arrays)


WORKLOADS = [Workload("lstm", "train", "32 × 64 tokens", data, build)]
