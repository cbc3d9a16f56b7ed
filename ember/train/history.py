"""History: the per-epoch logs of a ``fit``, and a plot of them."""

from ember.train.callbacks.callback import Callback

__all__ = ["History"]


class History(Callback):
    """What ``Trainer.fit`` returns: ``history[name]`` is the list of that logged value
    per epoch (``'loss'``, each metric, their ``'val_'`` forms, ``'learning_rate'``...).

    A resumed run's history starts with the epochs of the run it resumes (the training
    state holds them).

    Attributes:
        history: dict name -> list of floats, one per epoch.
        epoch: the (0-based) epoch indices the lists cover.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, [float("nan")] * (len(self.epoch) - 1))
            self.history[name].append(float(value))
        for values in self.history.values():  # a name this epoch did not log
            if len(values) < len(self.epoch):
                values.append(float("nan"))

    def state_dict(self):
        return {"history": self.history, "epoch": self.epoch}

    def load_state_dict(self, state):
        self.history = {name: list(values) for name, values in state["history"].items()}
        self.epoch = list(state["epoch"])

    def plot(self, path, *, dpi=100):
        """Write a PNG of the training curves: one panel per quantity, training and
        validation curves together, against the (1-based) epoch.

        Needs matplotlib (``pip install ember[train]``); draws with its Agg renderer,
        without pyplot, so it works without a display and leaves pyplot's state alone.

        Args:
            path: the PNG file to write (or a binary file object).
            dpi: dots per inch of the image.

        Returns:
            The matplotlib ``Figure``.
        """
        figure = _figure()
        names = [n for n in self.history if not n.startswith("val_")]
        names += [n for n in self.history if n.startswith("val_") and n[4:] not in names]
        columns = min(len(names), 3) or 1
        rows = max(1, -(-len(names) // columns))
        figure.set_size_inches(4.5 * columns, 3.4 * rows)
        epochs = [e + 1 for e in self.epoch]
        for i, name in enumerate(names):
            _panel(figure.add_subplot(rows, columns, i + 1), name, epochs, self.history)
        figure.tight_layout()
        figure.savefig(path, format="png", dpi=dpi)
        return figure


def _figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("History.plot needs matplotlib: pip install ember[train]") from None
    figure = Figure()
    FigureCanvasAgg(figure)
    return figure


def _panel(axes, name, epochs, history):
    from matplotlib.ticker import MaxNLocator

    base = name.removeprefix("val_")
    pair = base in history and "val_" + base in history
    for key, label in ((base, "training"), ("val_" + base, "validation")):
        if key in history:
            axes.plot(epochs, history[key], marker="o", markersize=3,
                      label=label if pair else key)
    axes.set_title(base)
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(base)
    axes.grid(alpha=0.3)
    axes.legend()
