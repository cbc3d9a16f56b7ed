"""The protocol-buffer classes of the ``tensorboard`` package, imported on first use.

``tensorboard`` (with ``protobuf``) is an optional extra: ``import ember`` and even
``import ember.utils.tensorboard`` work without it; creating a ``SummaryWriter`` does not.
"""

import functools
import types

__all__ = ["protos"]

_MISSING = ("ember.utils.tensorboard needs the 'tensorboard' package for its event-file "
            "protocol buffers; install it with: pip install ember[tensorboard]")


@functools.cache
def protos():
    """A namespace of the proto modules (``event_pb2``, ``summary_pb2``, ``graph_pb2`` ...)."""
    try:
        from google.protobuf import struct_pb2, text_format
        from tensorboard.compat.proto import (
            attr_value_pb2,
            event_pb2,
            graph_pb2,
            node_def_pb2,
            summary_pb2,
            tensor_pb2,
            tensor_shape_pb2,
            versions_pb2,
        )
        from tensorboard.plugins.hparams import api_pb2 as hparams_api_pb2
        from tensorboard.plugins.hparams import metadata as hparams_metadata
        from tensorboard.plugins.hparams import plugin_data_pb2 as hparams_data_pb2
        from tensorboard.plugins.projector import projector_config_pb2
        from tensorboard.plugins.text import plugin_data_pb2 as text_data_pb2
    except ImportError as exc:
        raise ImportError(f"{_MISSING} ({exc})") from None
    return types.SimpleNamespace(
        attr_value_pb2=attr_value_pb2, event_pb2=event_pb2, graph_pb2=graph_pb2,
        node_def_pb2=node_def_pb2, summary_pb2=summary_pb2, tensor_pb2=tensor_pb2,
        tensor_shape_pb2=tensor_shape_pb2, versions_pb2=versions_pb2, struct_pb2=struct_pb2,
        text_format=text_format, hparams_api_pb2=hparams_api_pb2,
        hparams_metadata=hparams_metadata, hparams_data_pb2=hparams_data_pb2,
        projector_config_pb2=projector_config_pb2, text_data_pb2=text_data_pb2)
