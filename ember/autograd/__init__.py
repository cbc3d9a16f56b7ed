"""Automatic differentiation: the graph, the engine, gradient modes, custom functions."""

from ember.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from ember.autograd.engine import backward, grad
from ember.autograd.function import Function, FunctionCtx, once_differentiable
from ember.autograd.gradcheck import gradcheck, gradgradcheck
from ember.autograd.grad_mode import (
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled,
)
from ember.autograd.node import Node, Op

__all__ = [
    "backward", "grad", "Function", "FunctionCtx", "once_differentiable", "gradcheck",
    "gradgradcheck", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
    "is_anomaly_enabled", "Node", "Op",
]
