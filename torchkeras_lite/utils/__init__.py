"""Utilities from ``keras.utils``: one-hot encoding, normalisation, seeding, progress bar,
PyDataset, get_file."""
from ..datasets._download import get_file
from .numerical_utils import normalize, to_categorical
from .progbar import Progbar
from .py_dataset import PyDataset, Sequence
from .rng import set_random_seed

__all__ = ["get_file", "normalize", "to_categorical", "Progbar", "PyDataset", "Sequence",
           "set_random_seed"]
