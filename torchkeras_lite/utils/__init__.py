"""Utilities from ``keras.utils``: one-hot encoding, normalisation, seeding, progress bar."""
from .numerical_utils import normalize, to_categorical
from .progbar import Progbar
from .rng import set_random_seed

__all__ = ["normalize", "to_categorical", "Progbar", "set_random_seed"]
