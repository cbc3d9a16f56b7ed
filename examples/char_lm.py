"""Train two character-level language models on ember's own source code, then let them
write some.

The text is the project's README and the Python files of the installed ember package (up
to 200 KB; nothing is downloaded). Each step draws 32 random chunks of 65 characters with
ember's generator, and a model learns to predict characters 2..65 from 1..64. Written as
a PyTorch user would write it: nn.Module models (ember.models.CharLSTM and GPT), AdamW,
gradient clipping, a plain loop; then ``generate`` continues a prompt.

Run: python examples/char_lm.py [--steps 200] [--model lstm|gpt|both] [--seed 0]
"""

import argparse
import pathlib
import time

import numpy as np

import ember
import ember.nn.functional as F
from ember.models import GPT, CharLSTM

CONTEXT = 64
BATCH = 32
PROMPT = "def forward(self, "


def load_text(limit=200_000):
    """ember's README and source files, concatenated, cut at ``limit`` characters."""
    package = pathlib.Path(ember.__file__).resolve().parent
    files = [package.parent / "README.md"] + sorted(package.rglob("*.py"))
    parts = [f.read_text(encoding="utf-8") for f in files if f.is_file()]
    return "\n".join(parts)[:limit]


class CharData:
    """The text as token ids, split 90/10 into training and validation, with a character
    vocabulary and random batches of contiguous chunks."""

    def __init__(self, text, generator):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}
        ids = np.array([self.index[c] for c in text], dtype=np.int64)
        split = int(0.9 * len(ids))
        self.train, self.valid = ids[:split], ids[split:]
        self.generator = generator

    def batch(self, split="train"):
        """``(inputs, targets)``, each ``(BATCH, CONTEXT)``: targets are inputs shifted
        by one character."""
        ids = self.train if split == "train" else self.valid
        starts = ember.randint(0, len(ids) - CONTEXT - 1, (BATCH,), generator=self.generator)
        chunks = ember.tensor(ids[starts.numpy()[:, None] + np.arange(CONTEXT + 1)])
        return chunks[:, :-1], chunks[:, 1:]

    def encode(self, s):
        return ember.tensor([self.index[c] for c in s if c in self.index])

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids.tolist())


def logits_of(model, inputs):
    out = model(inputs)
    return out[0] if isinstance(out, tuple) else out  # CharLSTM also returns its state


def loss_of(model, inputs, targets):
    logits = logits_of(model, inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train(name, model, data, steps, lr):
    """AdamW with gradient clipping; prints the mean training loss every tenth of the
    run and a validation loss at the end. Returns the final validation loss."""
    optimizer = ember.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    every = max(1, steps // 10)
    running, start = 0.0, time.perf_counter()
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters")
    model.train()
    for step in range(1, steps + 1):
        loss = loss_of(model, *data.batch())
        optimizer.zero_grad()
        loss.backward()
        ember.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        running += loss.item()
        if step % every == 0 or step == steps:
            span = every if step % every == 0 else step % every
            print(f"{name} step {step:4d}  loss {running / span:.3f}  "
                  f"({time.perf_counter() - start:.1f} s)")
            running = 0.0
    model.eval()
    with ember.no_grad():
        valid = float(np.mean([loss_of(model, *data.batch("valid")).item()
                               for _ in range(4)]))
    print(f"{name} validation loss {valid:.3f}")
    return valid


def sample(name, model, data, generator, length=300):
    prompt = data.encode(PROMPT)
    out = model.generate(prompt, length, temperature=0.8, top_k=20, generator=generator)
    print(f"--- {name} sample ---\n{data.decode(out)}\n---")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps per model")
    parser.add_argument("--model", choices=["lstm", "gpt", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    ember.manual_seed(args.seed)
    generator = ember.Generator().manual_seed(args.seed)
    text = load_text()
    data = CharData(text, generator)
    print(f"text: {len(text):,} characters of ember's README and source, "
          f"{len(data.chars)} distinct")
    models = {
        "lstm": (lambda: CharLSTM(len(data.chars), embed_dim=64, hidden_size=256), 3e-3),
        "gpt": (lambda: GPT(len(data.chars), max_len=CONTEXT, d_model=128, n_heads=4,
                            n_layers=2, d_ff=512), 3e-3),
    }
    start = time.perf_counter()
    for name in (["lstm", "gpt"] if args.model == "both" else [args.model]):
        build, lr = models[name]
        model = build()
        train(name, model, data, args.steps, lr)
        sample(name, model, data, generator)
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
