"""``SummaryWriter``: PyTorch's TensorBoard writer, writing real event files.

Example:
    >>> from ember.utils.tensorboard import SummaryWriter  # doctest: +SKIP
    >>> with SummaryWriter("runs/demo") as writer:  # doctest: +SKIP
    ...     for step in range(10):
    ...         writer.add_scalar("loss", 1 / (step + 1), step)

Then ``tensorboard --logdir runs`` shows the curve.
"""

import os
import socket
import time
from datetime import datetime

from ember.utils.tensorboard import graph as _graph
from ember.utils.tensorboard import summaries
from ember.utils.tensorboard._protos import protos
from ember.utils.tensorboard.embedding import write_embedding
from ember.utils.tensorboard.event_file import EventFileWriter

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """Writes ``Event`` protos to one new event file in ``log_dir`` (see ``EventFileWriter``)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        first = protos().event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        self.event_writer = EventFileWriter(log_dir, max_queue, flush_secs, filename_suffix,
                                            first.SerializeToString())

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        """Stamp ``event`` with the wall time (now unless given) and ``step``, and queue it."""
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event.SerializeToString())

    def add_summary(self, summary, global_step=None, walltime=None):
        self.add_event(protos().event_pb2.Event(summary=summary), global_step, walltime)

    def add_graph(self, graph_def, walltime=None):
        event = protos().event_pb2.Event(graph_def=graph_def.SerializeToString())
        self.add_event(event, None, walltime)

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()


class SummaryWriter:
    """Logs scalars, histograms, images, text, hyperparameters, graphs and embeddings.

    Each writer owns one new event file in ``log_dir`` (``add_scalars`` adds one per
    sub-tag in sub-directories). Events are buffered: they reach the file when ``max_queue``
    are pending, every ``flush_secs`` seconds, and on ``flush()`` and ``close()``.

    Args:
        log_dir: where to write; default ``runs/<month><day>_<H>-<M>-<S>_<hostname><comment>``.
        comment: appended to the default ``log_dir`` (ignored when ``log_dir`` is given).
        purge_step: on resuming after a crash at step T+X, pass T: TensorBoard then hides
            the events of earlier files whose step is T or more.
        max_queue: pending events that force a write.
        flush_secs: the longest an event waits in memory.
        filename_suffix: appended to event file names.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        protos()  # fail now, with the install hint, if tensorboard is missing
        if not log_dir:
            now = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{now}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._projector_config = None
        self._get_file_writer()
        self.default_bins = summaries.tensorflow_bins()

    def _get_file_writer(self):
        """The writer of ``log_dir``'s own file, opened again after ``close()``."""
        if self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                event_pb2 = protos().event_pb2
                self.file_writer.add_event(
                    event_pb2.Event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(event_pb2.Event(
                    step=self.purge_step,
                    session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The directory this writer writes to."""
        return self.log_dir

    def _add(self, summary, global_step, walltime):
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """Log one number (a float, or a one-element Tensor/array) under ``tag``.

        With ``new_style`` it is stored as a scalars-plugin tensor (float32, or float64 with
        ``double_precision``) instead of the legacy ``simple_value``.
        """
        self._add(summaries.scalar(tag, scalar_value, new_style, double_precision),
                  global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Log several curves drawn in one chart: each ``tag`` goes to its own run, the
        sub-directory ``<log_dir>/<main_tag>_<tag>`` (``/`` in ``main_tag`` becomes ``_``)."""
        walltime = time.time() if walltime is None else walltime
        log_dir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            sub_dir = os.path.join(log_dir, main_tag.replace("/", "_") + "_" + tag)
            writer = self.all_writers.get(sub_dir)
            if writer is None:
                writer = FileWriter(sub_dir, self.max_queue, self.flush_secs,
                                    self.filename_suffix)
                self.all_writers[sub_dir] = writer
            writer.add_summary(summaries.scalar(main_tag, value), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """Log the distribution of ``values``.

        ``bins`` is "tensorflow" (TensorFlow's exponential buckets) or anything
        ``numpy.histogram`` takes ("auto", "fd", a count, edges); ``max_bins`` merges
        neighbouring buckets down to at most that many.
        """
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._add(summaries.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        """Log a histogram computed elsewhere: its statistics and bucket right edges/counts."""
        self._add(summaries.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits,
                                          bucket_counts), global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """Log one image: ``(C, H, W)`` by default (C = 1, 3 or 4), float in [0, 1] or uint8."""
        self._add(summaries.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """Log a batch of images ``(N, C, H, W)`` as one grid image (8 per row)."""
        self._add(summaries.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """Log a matplotlib figure (or a list of them, as a grid); ``close`` closes it."""
        image = summaries.figure_to_image(figure, close)
        self.add_image(tag, image, global_step, walltime,
                       dataformats="NCHW" if isinstance(figure, (list, tuple)) else "CHW")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Log a string; TensorBoard's text tab renders it as Markdown."""
        self._add(summaries.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        """Log one trial's hyperparameters and final metrics for the HParams tab.

        They go to a new run, ``<log_dir>/<run_name>`` (the current time by default), with
        each metric also logged as a scalar there.
        """
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("add_hparams: hparam_dict and metric_dict must be dicts")
        experiment, start, end = summaries.hparams(hparam_dict, metric_dict,
                                                   hparam_domain_discrete)
        log_dir = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=log_dir) as trial:
            for summary in (experiment, start, end):
                trial.file_writer.add_summary(summary, global_step)
            for tag, value in metric_dict.items():
                trial.add_scalar(tag, value, global_step)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Log the graph of one forward pass of ``model`` on ``input_to_model`` (a Tensor or
        a tuple of them) for TensorBoard's graph tab. ``use_strict_trace`` is accepted for
        PyTorch compatibility and has no effect."""
        self._get_file_writer().add_graph(_graph.graph(model, input_to_model, verbose))

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag="default", metadata_header=None):
        """Log points ``(N, D)`` for the projector, with labels and images ``(N, C, H, W)``."""
        if self._projector_config is None:
            self._projector_config = protos().projector_config_pb2.ProjectorConfig()
        write_embedding(self._get_file_writer().get_logdir(), self._projector_config, mat,
                        metadata, label_img, global_step, tag, metadata_header)

    def flush(self):
        """Write every pending event of every file of this writer."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self):
        """Flush and close the files; a later ``add_*`` call opens a new file."""
        for writer in (self.all_writers or {}).values():
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
