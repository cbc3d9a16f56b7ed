"""Reading event files back with TensorBoard's own readers, for the SummaryWriter tests."""

import glob
import io
import os

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from PIL import Image
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

# Keep everything: by default the accumulator samples down long series.
_ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0}


def accumulator(log_dir):
    """An EventAccumulator over ``log_dir``, loaded."""
    acc = EventAccumulator(str(log_dir), size_guidance=_ALL)
    acc.Reload()
    return acc


def event_files(log_dir):
    return sorted(glob.glob(os.path.join(str(log_dir), "events.out.tfevents.*")))


def events(path):
    """Every Event of one file, through TensorBoard's loader (which checks each CRC)."""
    return list(event_file_loader.LegacyEventFileLoader(str(path)).Load())


def decode_png(data):
    """Pixels of a PNG, decoded by Pillow, as ``(H, W, C)`` uint8."""
    image = np.asarray(Image.open(io.BytesIO(data)))
    return image[:, :, None] if image.ndim == 2 else image


def records(path):
    """The raw records of one file, through TensorBoard's TFRecord reader, which raises
    ``DataLossError`` on a bad length or data CRC."""
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(str(path))
    out = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return out
        out.append(reader.record())
