"""The same model as a graph: compiled training, tracing, a code-free saved model, ONNX.

Run: python examples/graphs.py [--epochs 4] [--out runs/graphs]

1. trains LeNet-5 on the bundled digits with the whole training step compiled
   (``ember.compile``: forward, loss, backward and the optimizer update captured once);
2. traces the trained model (``ember.jit.trace``) and prints its graph;
3. saves it code-free (``ember.jit.save``) and loads it back without the model's class;
4. exports it to ONNX (``ember.onnx.export``; needs ``pip install 'ember[onnx]'``), runs it
   in ONNX Runtime when installed (``pip install onnxruntime``) and loads the ONNX file back
   as an ember module.
"""

import argparse
import importlib.util
import os
import time

import numpy as np

import ember
import ember.nn.functional as F
from ember.data import DataLoader
from ember.datasets import Digits
from ember.models import lenet5


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", default=os.path.join("runs", "graphs"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    ember.manual_seed(0)
    model = lenet5()
    optimizer = ember.optim.Adam(model.parameters(), lr=5e-3)

    @ember.compile
    def train_step(images, labels):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss

    train = DataLoader(Digits(train=True), batch_size=64, shuffle=True, drop_last=True)
    for epoch in range(args.epochs):
        start, total = time.perf_counter(), 0.0
        for images, labels in train:
            total += float(train_step(_to28(images), labels))
        print(f"epoch {epoch + 1}  loss {total / len(train):.4f}  "
              f"({time.perf_counter() - start:.1f} s)")

    model.eval()
    test_images, test_labels = next(iter(DataLoader(Digits(train=False), batch_size=256)))
    test_images = _to28(test_images)
    with ember.no_grad():
        expected = model(test_images)
    print(f"test accuracy {_accuracy(expected, test_labels):.2%}")

    traced = ember.jit.trace(model, test_images)
    print("\n".join(str(traced.graph).splitlines()[:8]) + "\n    ...")

    saved = os.path.join(args.out, "lenet.ember")
    ember.jit.save(traced, saved)
    loaded = ember.jit.load(saved)
    with ember.no_grad():
        print(f"saved model: {os.path.getsize(saved):,} bytes; max difference after load "
              f"{_max_diff(loaded(test_images), expected):.1e}")

    if importlib.util.find_spec("onnx") is None:
        print("onnx not installed (pip install 'ember[onnx]'): skipping the ONNX export")
        return
    onnx_path = os.path.join(args.out, "lenet.onnx")
    ember.onnx.export(model, (test_images,), onnx_path, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"},
                                                             "logits": {0: "batch"}})
    print(f"ONNX file: {os.path.getsize(onnx_path):,} bytes")
    try:
        import onnxruntime
    except ImportError:
        print("ONNX Runtime not installed: skipping the run there")
    else:
        session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        (logits,) = session.run(None, {"images": test_images.numpy()[:10]})
        print(f"ONNX Runtime: max difference {np.abs(logits - expected.numpy()[:10]).max():.1e}")
    back = ember.onnx.load(onnx_path)
    with ember.no_grad():
        print(f"ONNX loaded back into ember: max difference "
              f"{_max_diff(back(test_images), expected):.1e}")


def _to28(images):
    """The 8x8 digits padded to LeNet-5's 28x28 input."""
    return F.pad(images, (10, 10, 10, 10))


def _accuracy(logits, labels):
    return float((logits.argmax(1) == labels).float().mean())


def _max_diff(a, b):
    return float((a - b).abs().max())


if __name__ == "__main__":
    main()
