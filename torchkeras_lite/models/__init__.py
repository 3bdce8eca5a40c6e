"""Models: ``Model`` (compile/fit/evaluate/predict) and ``Sequential``."""
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential"]
