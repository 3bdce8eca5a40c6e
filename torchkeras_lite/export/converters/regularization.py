"""Converters for the regularization layers: identity at inference.

ActivityRegularization only adds a loss; AlphaDropout, GaussianDropout, GaussianNoise and
SpatialDropout1D/2D/3D are random in training only. An exported model is an inference model,
so all of them pass their input through.
"""
from __future__ import annotations

from ...layers.regularization import (ActivityRegularization, AlphaDropout, GaussianDropout,
                                      GaussianNoise, SpatialDropout1D, SpatialDropout2D,
                                      SpatialDropout3D)
from . import register_converter


@register_converter(ActivityRegularization, AlphaDropout, GaussianDropout, GaussianNoise,
                    SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
def identity(ctx, layer, x, **kwargs):
    return x
