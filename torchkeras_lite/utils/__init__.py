"""Utilities from ``keras.utils``: one-hot encoding, normalisation, seeding, progress bar,
PyDataset."""
from .numerical_utils import normalize, to_categorical
from .progbar import Progbar
from .py_dataset import PyDataset, Sequence
from .rng import set_random_seed

__all__ = ["normalize", "to_categorical", "Progbar", "PyDataset", "Sequence", "set_random_seed"]
