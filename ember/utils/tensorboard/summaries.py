"""``Summary`` protos for TensorBoard's plugins: scalars, histograms, images, text, hparams.

Each function returns one ``Summary`` proto, laid out the way TensorBoard's own writers (and
``torch.utils.tensorboard.summary``) lay it out, so that TensorBoard's readers and plugins
find the values where they look for them.
"""

import functools
import numbers

import numpy as np

from ember.tensor import Tensor
from ember.utils.tensorboard._protos import protos
from ember.utils.tensorboard.png import encode_png

__all__ = [
    "convert_to_hwc",
    "figure_to_image",
    "histogram",
    "histogram_raw",
    "hparams",
    "image",
    "make_grid",
    "scalar",
    "tensorflow_bins",
    "text",
    "to_numpy",
]


def to_numpy(value):
    """An ndarray of ``value`` (a Tensor, an array, a number or a nested list)."""
    if isinstance(value, Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def _summary(tag, **fields):
    pb = protos().summary_pb2
    return pb.Summary(value=[pb.Summary.Value(tag=tag, **fields)])


def _plugin_metadata(name, content=b""):
    pb = protos().summary_pb2
    return pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name=name,
                                                                         content=content))


def scalar(tag, value, new_style=False, double_precision=False):
    """One number: a ``simple_value``, or with ``new_style`` a scalars-plugin tensor."""
    array = to_numpy(value).squeeze()
    if array.ndim != 0:
        raise ValueError(f"add_scalar: '{tag}' needs one value, got an array of shape "
                         f"{tuple(array.shape)}")
    number = float(array)
    if not new_style:
        return _summary(tag, simple_value=number)
    pb = protos().tensor_pb2
    tensor = (pb.TensorProto(double_val=[number], dtype="DT_DOUBLE") if double_precision
              else pb.TensorProto(float_val=[number], dtype="DT_FLOAT"))
    return _summary(tag, tensor=tensor, metadata=_plugin_metadata("scalars"))


@functools.cache
def tensorflow_bins():
    """TensorFlow's default histogram edges: +-1e-12 * 1.1**k below 1e20, and 0."""
    # Sequential products (not powers), so the edges equal those of TensorFlow's loop bit for bit.
    powers = np.cumprod(np.r_[1e-12, np.full(800, 1.1)])
    powers = powers[powers < 1e20]
    return np.concatenate([-powers[::-1], [0.0], powers])


def histogram(tag, values, bins, max_bins=None):
    """A histogram of ``values`` with NumPy's ``bins`` (edges, a count, or a rule name).

    As in TensorFlow's histogram.cc, only the buckets from the first to the last non-empty
    one are kept, plus an empty bucket on the left, since each bucket stores only its
    right edge.
    """
    values = to_numpy(values).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError(f"add_histogram: '{tag}' has no values")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        counts, limits = _merge_bins(counts, limits, max_bins)
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        raise ValueError(f"add_histogram: every value of '{tag}' lies outside the bins")
    start, end = nonzero[0], nonzero[-1] + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    return histogram_raw(tag, values.min(), values.max(), values.size, values.sum(),
                         values.dot(values), limits.tolist(), counts.tolist())


def _merge_bins(counts, limits, max_bins):
    group = len(counts) // max_bins
    counts = np.pad(counts, (0, -len(counts) % group))
    counts = counts.reshape(-1, group).sum(axis=1)
    limits = np.concatenate([limits[:-1:group], limits[-1:]])
    return counts, limits


def histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A histogram given by its statistics and buckets (right edges and counts)."""
    if len(bucket_limits) != len(bucket_counts):
        raise ValueError("add_histogram_raw: bucket_limits and bucket_counts differ in length "
                         f"({len(bucket_limits)} and {len(bucket_counts)})")
    histo = protos().summary_pb2.HistogramProto(
        min=float(min), max=float(max), num=float(num), sum=float(sum),
        sum_squares=float(sum_squares), bucket_limit=bucket_limits, bucket=bucket_counts)
    return _summary(tag, histo=histo)


def make_grid(images, ncols=8):
    """Images ``(N, C, H, W)`` tiled row by row into one ``(C, rows * H, ncols * W)`` image."""
    n, c, h, w = images.shape
    if c == 1:
        images = np.repeat(images, 3, axis=1)
        c = 3
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    padded = np.zeros((nrows * ncols, c, h, w), images.dtype)
    padded[:n] = images
    grid = padded.reshape(nrows, ncols, c, h, w).transpose(2, 0, 3, 1, 4)
    return grid.reshape(c, nrows * h, ncols * w)


def convert_to_hwc(array, dataformats):
    """``array`` laid out as ``dataformats`` ("NCHW", "CHW", "HWC", "HW" ...) made ``(H, W, C)``;
    a batch becomes a grid of 8 columns and one gray channel becomes three."""
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW"):
        raise ValueError(f"dataformats '{dataformats}' must use each of N, C, H, W at most once")
    if array.ndim != len(fmt):
        raise ValueError(f"an image of shape {tuple(array.shape)} does not match dataformats "
                         f"'{dataformats}'")
    if len(fmt) == 4:
        return make_grid(array.transpose([fmt.index(k) for k in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        hwc = array.transpose([fmt.index(k) for k in "HWC"])
        return np.repeat(hwc, 3, axis=2) if hwc.shape[2] == 1 else hwc
    if fmt not in ("HW", "WH"):
        raise ValueError(f"dataformats '{dataformats}' has no H and W")
    return np.repeat(array.transpose([fmt.index(k) for k in "HW"])[:, :, None], 3, axis=2)


def image(tag, img, dataformats="CHW"):
    """A PNG image; float pixels are taken in [0, 1], uint8 pixels in [0, 255]."""
    hwc = convert_to_hwc(to_numpy(img), dataformats)
    if hwc.shape[2] not in (3, 4):
        raise ValueError(f"add_image: '{tag}' has {hwc.shape[2]} channels; expected 1, 3 or 4")
    scale = 1 if hwc.dtype == np.uint8 else 255
    pixels = (hwc.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    png = protos().summary_pb2.Summary.Image(height=height, width=width, colorspace=channels,
                                             encoded_image_string=encode_png(pixels))
    return _summary(tag, image=png)


def figure_to_image(figures, close=True):
    """A matplotlib figure rendered to uint8 ``(C, H, W)``; a list of them to ``(N, C, H, W)``."""
    try:
        import matplotlib.pyplot as plt
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        raise ImportError("add_figure needs matplotlib: pip install ember[train]") from None

    def render(figure):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
        if close:
            plt.close(figure)
        return rgba[:, :, :3].transpose(2, 0, 1).copy()

    if isinstance(figures, (list, tuple)):
        return np.stack([render(f) for f in figures])
    return render(figures)


def text(tag, text_string):
    """A text-plugin string tensor (shown as Markdown), under ``<tag>/text_summary``."""
    pb = protos()
    content = pb.text_data_pb2.TextPluginData(version=0).SerializeToString()
    shape = pb.tensor_shape_pb2.TensorShapeProto(dim=[pb.tensor_shape_pb2.TensorShapeProto.Dim(
        size=1)])
    tensor = pb.tensor_pb2.TensorProto(dtype="DT_STRING", tensor_shape=shape,
                                       string_val=[str(text_string).encode("utf-8")])
    return _summary(f"{tag}/text_summary", tensor=tensor, metadata=_plugin_metadata("text",
                                                                                      content))


def hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The HParams plugin's three summaries: experiment, session start, session end."""
    pb = protos()
    api, data, meta = pb.hparams_api_pb2, pb.hparams_data_pb2, pb.hparams_metadata
    domains = hparam_domain_discrete or {}
    for name, domain in domains.items():
        if name not in hparam_dict or not isinstance(domain, list):
            raise TypeError(f"add_hparams: hparam_domain_discrete['{name}'] must be a list of "
                            "values of an hparam in hparam_dict")
    start = data.SessionStartInfo()
    infos = []
    for name, value in hparam_dict.items():
        if value is None:
            continue
        field, kind, value = _hparam_value(name, value)
        setattr(start.hparams[name], field, value)
        domain = None
        if name in domains:
            domain = pb.struct_pb2.ListValue(
                values=[pb.struct_pb2.Value(**{field: v}) for v in domains[name]])
        infos.append(api.HParamInfo(name=name, type=api.DataType.Value(kind),
                                    domain_discrete=domain))
    experiment = api.Experiment(
        hparam_infos=infos,
        metric_infos=[api.MetricInfo(name=api.MetricName(tag=k)) for k in metric_dict])
    end = data.SessionEndInfo(status=api.Status.Value("STATUS_SUCCESS"))

    def wrap(tag, **field):
        content = data.HParamsPluginData(version=meta.PLUGIN_DATA_VERSION, **field)
        return _summary(tag, metadata=_plugin_metadata(meta.PLUGIN_NAME,
                                                       content.SerializeToString()))

    return (wrap(meta.EXPERIMENT_TAG, experiment=experiment),
            wrap(meta.SESSION_START_INFO_TAG, session_start_info=start),
            wrap(meta.SESSION_END_INFO_TAG, session_end_info=end))


def _hparam_value(name, value):
    """(struct field, hparams DataType name, value) of one hyperparameter value."""
    if isinstance(value, (bool, np.bool_)):
        return "bool_value", "DATA_TYPE_BOOL", bool(value)
    if isinstance(value, str):
        return "string_value", "DATA_TYPE_STRING", value
    if isinstance(value, numbers.Real):
        return "number_value", "DATA_TYPE_FLOAT64", float(value)
    if isinstance(value, (Tensor, np.ndarray)) and to_numpy(value).size == 1:
        return "number_value", "DATA_TYPE_FLOAT64", float(to_numpy(value).reshape(-1)[0])
    raise ValueError(f"add_hparams: hparam '{name}' is a {type(value).__name__}; values must "
                     "be int, float, str, bool or a one-element Tensor")
