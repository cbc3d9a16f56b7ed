"""The files TensorBoard's embedding projector reads.

Each embedding lives in ``<log_dir>/<global_step, 5 digits>/<tag, %-escaped>/`` as
``tensors.tsv`` (one point per line, tab-separated), optional ``metadata.tsv`` (one label per
line, or a header line and columns) and ``sprite.png`` (the label images tiled in a square);
``<log_dir>/projector_config.pbtxt`` lists every embedding written so far.
"""

import math
import os
import warnings

import numpy as np

from ember.utils.tensorboard._protos import protos
from ember.utils.tensorboard.png import encode_png
from ember.utils.tensorboard.summaries import make_grid, to_numpy

__all__ = ["write_embedding"]


def _escape(tag):
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


def _write(path, text_or_bytes):
    data = text_or_bytes.encode("utf-8") if isinstance(text_or_bytes, str) else text_or_bytes
    with open(path, "wb") as f:
        f.write(data)


def _metadata_tsv(metadata, header):
    if not header:
        return "".join(f"{x}\n" for x in metadata)
    if any(len(row) != len(header) for row in metadata):
        raise ValueError("add_embedding: every metadata row needs as many columns as "
                         f"metadata_header ({len(header)})")
    return "".join("\t".join(str(v) for v in row) + "\n" for row in [header, *metadata])


def _sprite(label_img):
    """The label images ``(N, C, H, W)`` tiled in a square of ceil(sqrt(N)) per side, as PNG."""
    images = to_numpy(label_img)
    if images.ndim != 4:
        raise ValueError(f"add_embedding: label_img must be (N, C, H, W), got {images.shape}")
    side = math.ceil(math.sqrt(images.shape[0]))
    grid = make_grid(images, ncols=side).transpose(1, 2, 0)
    square = np.zeros((grid.shape[1], grid.shape[1], grid.shape[2]), grid.dtype)
    square[:grid.shape[0]] = grid
    scale = 1 if square.dtype == np.uint8 else 255
    return encode_png((square.astype(np.float32) * scale).clip(0, 255).astype(np.uint8))


def write_embedding(log_dir, config, mat, metadata=None, label_img=None, global_step=None,
                    tag="default", metadata_header=None):
    """Write one embedding's files, add it to ``config`` and rewrite the projector config.

    Args:
        log_dir: the writer's directory.
        config: the writer's ``ProjectorConfig`` proto, extended in place.
        mat: ``(N, D)`` points.
        metadata: ``N`` labels (or ``N`` rows of columns when ``metadata_header`` is given).
        label_img: ``(N, C, H, W)`` images, one per point.
        global_step: the step (0 when None); tag: the embedding's name.
    """
    mat = to_numpy(mat)
    if mat.ndim != 2:
        raise ValueError(f"add_embedding: mat must be 2-D (points, features), got {mat.shape}")
    step = 0 if global_step is None else int(global_step)
    subdir = f"{step:05d}/{_escape(tag)}"
    path = os.path.join(log_dir, subdir)
    if os.path.isdir(path):
        warnings.warn(f"add_embedding: {path} exists; pass a new global_step", stacklevel=3)
    os.makedirs(path, exist_ok=True)
    info = protos().projector_config_pb2.EmbeddingInfo(tensor_name=f"{tag}:{step:05d}",
                                                       tensor_path=f"{subdir}/tensors.tsv")
    if metadata is not None:
        if len(metadata) != mat.shape[0]:
            raise ValueError(f"add_embedding: {len(metadata)} metadata rows for "
                             f"{mat.shape[0]} points")
        _write(os.path.join(path, "metadata.tsv"), _metadata_tsv(metadata, metadata_header))
        info.metadata_path = f"{subdir}/metadata.tsv"
    if label_img is not None:
        if label_img.shape[0] != mat.shape[0]:
            raise ValueError(f"add_embedding: {label_img.shape[0]} label images for "
                             f"{mat.shape[0]} points")
        _write(os.path.join(path, "sprite.png"), _sprite(label_img))
        info.sprite.image_path = f"{subdir}/sprite.png"
        info.sprite.single_image_dim.extend([label_img.shape[3], label_img.shape[2]])
    rows = ("\t".join(str(v) for v in row) for row in mat.tolist())
    _write(os.path.join(path, "tensors.tsv"), "".join(r + "\n" for r in rows))
    config.embeddings.append(info)
    _write(os.path.join(log_dir, "projector_config.pbtxt"),
           protos().text_format.MessageToString(config))
