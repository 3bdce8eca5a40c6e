"""torchkeras_lite: Keras's model-building and training API running on PyTorch.

Change ``from keras...`` to ``from torchkeras_lite...``::

    from torchkeras_lite.models import Sequential
    from torchkeras_lite.layers import Dense
"""
from . import (activations, callbacks, config, constraints, datasets, distribution,
               initializers, layers, losses, metrics, mixed_precision, models, optimizers,
               regularizers, saving, utils)
from .device import resolve_device
from .layers import Input
from .models import Model, Sequential

__version__ = "0.1.0"

__all__ = ["Input", "Model", "Sequential", "activations", "callbacks", "config", "constraints",
           "datasets", "distribution",
           "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "optimizers",
           "regularizers", "resolve_device", "saving", "utils"]
