"""ONNX forms of the Keras activations (used by Dense/Conv ``activation=`` and Activation)."""
from __future__ import annotations

from . import register_activation


@register_activation("relu")
def relu(ctx, x):
    return ctx.node("Relu", [x], shape=x.shape)


@register_activation("sigmoid")
def sigmoid(ctx, x):
    return ctx.node("Sigmoid", [x], shape=x.shape)


@register_activation("tanh")
def tanh(ctx, x):
    return ctx.node("Tanh", [x], shape=x.shape)


@register_activation("softmax")
def softmax(ctx, x):
    return ctx.node("Softmax", [x], axis=-1, shape=x.shape)
