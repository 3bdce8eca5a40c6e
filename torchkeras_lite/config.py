"""Global settings, as Keras keeps them in ``keras.config``.

``epsilon`` is the fuzz factor used by losses, metrics and optimizers (Keras: 1e-7);
``floatx`` is the default float dtype of weights; ``image_data_format`` the default layout
of image tensors. ``device`` is the default for ``compile(device='auto')``; the environment
variable ``TORCHKERAS_LITE_DEVICE`` overrides it.
"""
from __future__ import annotations

_EPSILON = 1e-7
_FLOATX = "float32"
_IMAGE_DATA_FORMAT = "channels_last"
_DEVICE = "auto"

_FLOAT_TYPES = ("float16", "bfloat16", "float32", "float64")


def epsilon() -> float:
    """The fuzz factor used in numeric expressions (default 1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    if not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"epsilon must be a positive float, got {value!r}")
    _EPSILON = float(value)


def floatx() -> str:
    """The default float dtype name, 'float32' unless changed."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in _FLOAT_TYPES:
        raise ValueError(f"floatx must be one of {_FLOAT_TYPES}, got {value!r}")
    _FLOATX = value


def image_data_format() -> str:
    """'channels_last' (default) or 'channels_first'."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(value: str) -> None:
    global _IMAGE_DATA_FORMAT
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"image_data_format must be 'channels_last' or 'channels_first', got {value!r}"
        )
    _IMAGE_DATA_FORMAT = value


def device() -> str:
    """The device used when ``compile(device='auto')`` is asked for (default 'auto')."""
    return _DEVICE


def set_device(value) -> None:
    """Set the default device: 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device."""
    global _DEVICE
    _DEVICE = value


_FUSED_OPS = True


def fused_ops() -> bool:
    """Whether training may use fused forms of Keras's formulas (default True).

    Today: a crossentropy on a softmax output is computed from the logits
    (``torchkeras_lite._fused``), equal to Keras's within float rounding. Set it to False for
    Keras's exact op sequence (bit-identical training where every other op matches too).
    """
    return _FUSED_OPS


def set_fused_ops(value: bool) -> None:
    """Turn the fused training paths on (default) or off; see :func:`fused_ops`."""
    global _FUSED_OPS
    if not isinstance(value, bool):
        raise TypeError(f"set_fused_ops expects True or False, got {value!r}.")
    _FUSED_OPS = value
