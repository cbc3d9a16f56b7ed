"""Inception-v3 against its torch reference.

The auxiliary classifier needs 299×299 inputs (17×17 maps at ``Mixed_6e``), too slow to
run here both in ember and torch; so the whole network is compared at 75×75 (eval) and
107×107 (training, where the last batch norms see 2×2 maps) with a small stand-in for
the auxiliary classifier, and ``InceptionAux`` is compared on its own at its real size.
"""

import torch

import ember
from ember import models
from ember.models.inception import Inception3, InceptionAux, InceptionOutputs
from tests.models import reference_inception as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
)


def _aux_stand_ins(num_classes):
    """A global average pool and a linear layer, in ember and in torch, same weights."""
    e_aux = ember.nn.Sequential(ember.nn.AdaptiveAvgPool2d(1), ember.nn.Flatten(),
                                ember.nn.Linear(768, num_classes))
    t_aux = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(768, num_classes))
    copy_weights(e_aux, t_aux)
    return e_aux, t_aux


def test_inception_v3_matches_reference():
    torch.manual_seed(0)
    t_model, e_model = ref.Inception3(dropout=0.0), models.inception_v3(dropout=0.0)
    assert_same_structure(e_model, t_model, known_count=27_161_264)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    # Eval returns the logits alone, even with an auxiliary classifier; the input
    # transform (ImageNet normalization to [-1, 1]) is checked on the way.
    e_model.transform_input = t_model.transform_input = True
    out = compare_eval(e_model, t_model, (1, 3, 75, 75))
    assert isinstance(out, ember.Tensor) and out.shape == (1, 1000)
    e_model.transform_input = t_model.transform_input = False
    e_model.AuxLogits, t_model.AuxLogits = _aux_stand_ins(1000)
    out = compare_training(e_model, t_model, (2, 3, 107, 107))
    assert isinstance(out, InceptionOutputs)
    assert out.logits.shape == out.aux_logits.shape == (2, 1000)


def test_inception_aux_matches_reference():
    torch.manual_seed(0)
    t_aux, e_aux = ref.InceptionAux(768, 10), InceptionAux(768, 10)
    assert_same_structure(e_aux, t_aux)
    copy_weights(e_aux, t_aux)
    # Eight samples: the last batch norm sees 1×1 maps.
    compare_training(e_aux, t_aux, (8, 768, 17, 17))
    compare_eval(e_aux, t_aux, (1, 768, 17, 17), seed=3)


def test_inception_v3_without_aux_logits():
    # init_weights=False: the layers' own initialization (checked above for the other).
    e_model = models.inception_v3(aux_logits=False, init_weights=False, num_classes=10)
    with torch.device("meta"):
        t_model = ref.Inception3(aux_logits=False, init_weights=False, num_classes=10)
    assert_same_structure(e_model, t_model, known_count=23_834_568 - 990 * 2049)
    assert e_model.AuxLogits is None
    assert float(e_model.fc.bias.abs().max()) > 0


def test_invalid_inception_blocks():
    try:
        Inception3(inception_blocks=[None] * 6)
    except ValueError as error:
        assert "length of inception_blocks should be 7 instead of 6" in str(error)
    else:
        raise AssertionError("no error")
