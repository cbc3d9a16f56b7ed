"""The training state: what ``fit(resume_from=...)`` needs to continue a run exactly.

A training-state checkpoint is an ``ember.save`` file (safetensors with a JSON manifest,
written atomically, never pickled) holding one dict::

    {"format": "ember.train", "version": 1,
     "epoch": epochs completed (the next epoch to run), "step": optimizer steps taken,
     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
     "callbacks": {"LearningRateScheduler": {...}, "EarlyStopping": {...}, "History": ...},
     "rng": {"ember": default generator state, "numpy": NumPy's global state,
             "python": random's state,
             "data": {"train": [generator states], "validation": [...]}}}

Callback states are keyed by class name ("Name#2" for a second one of a class), so a
resumed run matches them to the callbacks it is given. The data entry holds the states
of the generators a DataLoader and its samplers own (``generator=``); loaders without
one shuffle from the default generator, which is saved anyway.

Only epoch boundaries are resume points: the state is captured at the end of an epoch,
and a resumed run starts at the next epoch (a run stopped mid-epoch replays that epoch
from its last checkpoint). The weights alone load with
``model.load_state_dict(ember.load(path)["model"])``.
"""

import random

import numpy as np

from ember import random as ember_random
from ember.serialization import CheckpointError, load
from ember.tensor import Tensor

__all__ = ["FORMAT", "VERSION", "capture", "load_training_state", "restore"]

FORMAT = "ember.train"
VERSION = 1


def capture(trainer, callbacks, train_data, validation_data):
    """The training state at the end of epoch ``trainer.epoch`` (a dict for ``ember.save``)."""
    return {
        "format": FORMAT, "version": VERSION,
        "epoch": trainer.epoch + 1, "step": trainer.global_step,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "callbacks": {key: state for key, callback in _keyed(callbacks)
                      if (state := callback.state_dict())},
        "rng": {"ember": ember_random.default_generator.get_state(),
                "numpy": _numpy_state(), "python": _python_state(),
                "data": {"train": _generator_states(train_data),
                         "validation": _generator_states(validation_data)}},
    }


def restore(state, trainer, callbacks, train_data, validation_data):
    """Load a captured state into the trainer, its callbacks and the data's generators,
    then every random state; returns the epoch to start from."""
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    saved = state["callbacks"]
    for key, callback in _keyed(callbacks):
        if key in saved:
            callback.load_state_dict(saved[key])
    rng = state["rng"]
    _set_generator_states(train_data, rng["data"]["train"], "training")
    _set_generator_states(validation_data, rng["data"]["validation"], "validation")
    ember_random.default_generator.set_state(rng["ember"])
    np.random.set_state(("MT19937", rng["numpy"]["key"].astype(np.uint32),
                         rng["numpy"]["pos"], rng["numpy"]["has_gauss"],
                         rng["numpy"]["cached_gaussian"]))
    python = rng["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()),
                     python["gauss_next"]))
    trainer.epoch, trainer.global_step = state["epoch"] - 1, state["step"]
    return state["epoch"]


def load_training_state(path):
    """Read a training-state checkpoint, checking that it is one.

    Raises:
        CheckpointError: the file is not an ember training state (another checkpoint,
            or one written by a newer ember).
    """
    state = load(path)
    if not (isinstance(state, dict) and state.get("format") == FORMAT):
        raise CheckpointError(f"resume_from: {str(path)!r} is not a training-state "
                              f"checkpoint (ModelCheckpoint writes those); a plain state "
                              f"dict loads with model.load_state_dict(ember.load(path))")
    if state.get("version", VERSION + 1) > VERSION:
        raise CheckpointError(f"resume_from: {str(path)!r} was written by a newer ember "
                              f"(training-state version {state.get('version')})")
    return state


def _keyed(callbacks):
    """``(key, callback)`` pairs: the class name, with ``#n`` for the n-th of a class."""
    seen = {}
    for callback in callbacks:
        name = type(callback).__name__
        seen[name] = seen.get(name, 0) + 1
        yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), callback


def _numpy_state():
    _, key, pos, has_gauss, cached = np.random.get_state()
    return {"key": key.astype(np.int64), "pos": int(pos), "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached)}


def _python_state():
    version, internal, gauss_next = random.getstate()
    return {"version": version, "state": np.array(internal, dtype=np.int64),
            "gauss_next": gauss_next}


def _generators(data):
    """The distinct ``ember.Generator``s a loader and its samplers own, in a fixed order."""
    batch_sampler = getattr(data, "batch_sampler", None)
    owners = (data, getattr(data, "sampler", None), getattr(batch_sampler, "sampler", None))
    found = []
    for owner in owners:
        generator = getattr(owner, "generator", None)
        if isinstance(generator, ember_random.Generator) and all(generator is not g
                                                                  for g in found):
            found.append(generator)
    return found


def _generator_states(data):
    return [g.get_state() for g in _generators(data)] if data is not None else []


def _set_generator_states(data, states, which):
    generators = _generators(data) if data is not None else []
    if len(generators) != len(states):
        raise ValueError(f"resume_from: the checkpoint holds {len(states)} random generator "
                         f"state(s) of the {which} data, but the {which} data given owns "
                         f"{len(generators)}; resume with a loader built as the first one was")
    for generator, saved in zip(generators, states):
        generator.set_state(saved if isinstance(saved, Tensor) else np.asarray(saved))
