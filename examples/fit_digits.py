"""Keras-style training with ember.train: fit, callbacks, TensorBoard, a plot, a summary.

Run: python examples/fit_digits.py [--logdir runs/digits] [--epochs 8]
Then: tensorboard --logdir runs/digits   (and open http://localhost:6006)
"""

import argparse
import os

import ember
import ember.nn as nn
from ember.data import DataLoader
from ember.datasets import Digits
from ember.train import Trainer
from ember.train.callbacks import EarlyStopping, ModelCheckpoint, TensorBoard


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default=os.path.join("runs", "digits"))
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()

    ember.manual_seed(0)
    train_loader = DataLoader(Digits(train=True), batch_size=32, shuffle=True)
    val_loader = DataLoader(Digits(train=False), batch_size=256)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))
    ember.summary(model, (1, 8, 8))

    trainer = Trainer(model, ember.optim.Adam(model.parameters(), lr=3e-3), "cross_entropy",
                      metrics=["accuracy"])
    history = trainer.fit(
        train_loader, validation_data=val_loader, epochs=args.epochs, verbose=2,
        callbacks=[EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
                   ModelCheckpoint(os.path.join(args.logdir, "checkpoints")),
                   TensorBoard(args.logdir)])
    print("validation:", trainer.evaluate(val_loader))
    history.plot(os.path.join(args.logdir, "curves.png"))
    print(f"curves in {args.logdir}/curves.png; TensorBoard: tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
