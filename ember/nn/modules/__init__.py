"""The layers of ``ember.nn``, one file per concept (re-exported by ``ember.nn``)."""

from ember.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from ember.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                                   ConvTranspose3d)
from ember.nn.modules.dropout import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,
                                      FeatureAlphaDropout)
from ember.nn.modules.flatten import Flatten, Unflatten
from ember.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from ember.nn.modules.linear import Bilinear, Identity, Linear
from ember.nn.modules.normalization import GroupNorm, LayerNorm, RMSNorm
from ember.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d,
                                      AdaptiveMaxPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                                      MaxPool2d, MaxUnpool1d, MaxUnpool2d)
from ember.nn.modules.sparse import Embedding, EmbeddingBag
from ember.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AlphaDropout",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "Bilinear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "Embedding",
    "EmbeddingBag",
    "FeatureAlphaDropout",
    "Flatten",
    "GroupNorm",
    "Identity",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "MaxUnpool1d",
    "MaxUnpool2d",
    "RMSNorm",
    "Unflatten",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]

from ember.nn.modules.activation import *  # noqa: E402,F403 - activation layers
from ember.nn.modules.distance import *  # noqa: E402,F403 - PairwiseDistance, CosineSimilarity
from ember.nn.modules.loss import *  # noqa: E402,F403 - loss layers
__all__ += activation.__all__ + distance.__all__ + loss.__all__  # noqa: F405, F821
from ember.nn.modules.attention import MultiheadAttention
from ember.nn.modules.transformer import (Transformer, TransformerDecoder,
                                          TransformerDecoderLayer, TransformerEncoder,
                                          TransformerEncoderLayer)
__all__ += ["MultiheadAttention", "Transformer", "TransformerDecoder",
            "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer"]
from ember.nn.modules.rnn import GRU, LSTM, RNN, RNNBase
from ember.nn.modules.rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase

__all__ += ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
