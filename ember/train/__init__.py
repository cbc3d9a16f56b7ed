"""Keras-style training: ``Trainer.fit/evaluate/predict``, callbacks, metrics, history
plots, resumable training-state checkpoints, and ``summary``.

    >>> import ember
    >>> from ember.train import Trainer
    >>> from ember.train.callbacks import EarlyStopping
    >>> model = ember.nn.Sequential(ember.nn.Flatten(), ember.nn.Linear(64, 10))
    >>> trainer = Trainer(model, ember.optim.Adam(model.parameters()), "cross_entropy",
    ...                   metrics=["accuracy"])

``trainer.fit(train_loader, validation_data=val_loader, epochs=10,
callbacks=[EarlyStopping(patience=2)])`` returns a ``History``;
``history.plot("curves.png")`` draws it.
"""

from ember.train import callbacks, checkpoint, metrics
from ember.train.history import History
from ember.train.summary import summary
from ember.train.trainer import Trainer

__all__ = ["History", "Trainer", "callbacks", "checkpoint", "metrics", "summary"]
