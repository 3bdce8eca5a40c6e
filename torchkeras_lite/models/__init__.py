"""Models: ``Model`` (compile/fit/evaluate/predict) and ``Sequential``; ``load_model``."""
from .model import Model
from .sequential import Sequential
from ..saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
