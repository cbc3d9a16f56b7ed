"""Callbacks of ``Trainer.fit``: hooks named like sentences, one callback per file.

    >>> from ember.train.callbacks import EarlyStopping, ModelCheckpoint
    >>> callbacks = [EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
    ...              ModelCheckpoint("checkpoints", monitor="val_loss")]
"""

from ember.train.callbacks.callback import Callback, CallbackList
from ember.train.callbacks.csv_logger import CSVLogger
from ember.train.callbacks.early_stopping import EarlyStopping
from ember.train.callbacks.lambda_callback import LambdaCallback
from ember.train.callbacks.lr_scheduler import LearningRateScheduler
from ember.train.callbacks.model_checkpoint import ModelCheckpoint
from ember.train.callbacks.progress import ProgressBar
from ember.train.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from ember.train.callbacks.tensorboard import TensorBoard
from ember.train.callbacks.terminate_on_nan import TerminateOnNaN

__all__ = [
           "CSVLogger",
           "Callback",
           "CallbackList",
           "EarlyStopping",
           "LambdaCallback",
           "LearningRateScheduler",
           "ModelCheckpoint",
           "ProgressBar",
           "ReduceLROnPlateau",
           "TensorBoard",
           "TerminateOnNaN",
]
