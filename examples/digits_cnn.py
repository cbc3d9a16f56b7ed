"""Train a small convolutional network on the handwritten digits that ship with ember.

Written exactly as a PyTorch user would write it: Dataset, DataLoader, nn.Module, an
optimizer, a scheduler, a training loop; then a checkpoint saved with ember.save,
reloaded into a fresh model, and evaluated again.

Run: python examples/digits_cnn.py [--epochs 12] [--checkpoint digits_cnn.safetensors]
"""

import argparse
import os
import tempfile
import time

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.data import DataLoader
from ember.datasets import Digits


class DigitsNet(nn.Module):
    """Two 3x3 convolutions, a max-pool and two linear layers: 8x8 image -> 10 classes."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.25), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


@ember.no_grad()
def evaluate(model, loader):
    """Accuracy of ``model`` over ``loader``, in eval mode."""
    model.eval()
    correct = total = 0
    for images, labels in loader:
        correct += (model(images).argmax(dim=1) == labels).sum().item()
        total += labels.shape[0]
    return correct / total


def train(epochs, checkpoint):
    ember.manual_seed(0)
    train_set, test_set = Digits(train=True), Digits(train=False)
    train_loader = DataLoader(train_set, batch_size=32, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)
    print(f"digits: {len(train_set)} training and {len(test_set)} test images (8x8)")

    model = DigitsNet()
    optimizer = ember.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        running = seen = 0.0
        for images, labels in train_loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += loss.item() * labels.shape[0]
            seen += labels.shape[0]
        scheduler.step()
        accuracy = evaluate(model, test_loader)
        print(f"epoch {epoch:2d}  loss {running / seen:.4f}  test accuracy {accuracy:.2%}  "
              f"({time.perf_counter() - start:.1f} s)")

    ember.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epochs}, checkpoint)
    fresh = DigitsNet()
    fresh.load_state_dict(ember.load(checkpoint)["model"])
    reloaded = evaluate(fresh, test_loader)
    print(f"checkpoint {checkpoint}: reloaded into a fresh model, test accuracy "
          f"{reloaded:.2%} (before saving: {accuracy:.2%})")
    return accuracy, reloaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--checkpoint", default=os.path.join(tempfile.gettempdir(),
                                                             "digits_cnn.safetensors"))
    args = parser.parse_args()
    train(args.epochs, args.checkpoint)


if __name__ == "__main__":
    main()
