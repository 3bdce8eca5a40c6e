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
    (``torchkeras_lite._fused``), and Dense kernels built while it is on are stored column-major
    (torch's nn.Linear memory layout, faster GEMMs); both equal to Keras within float rounding.
    Set it to False (before building the model) for Keras's exact op sequence and layouts
    (bit-identical training where every other op matches too).
    """
    return _FUSED_OPS


def set_fused_ops(value: bool) -> None:
    """Turn the fused training paths on (default) or off; see :func:`fused_ops`."""
    global _FUSED_OPS
    if not isinstance(value, bool):
        raise TypeError(f"set_fused_ops expects True or False, got {value!r}.")
    _FUSED_OPS = value


_JIT_BACKEND = "inductor"


def jit_backend() -> str:
    """The ``torch.compile`` backend used by ``compile(jit_compile=True)`` (default 'inductor')."""
    return _JIT_BACKEND


def set_jit_backend(name: str) -> None:
    """Choose the ``torch.compile`` backend for ``jit_compile=True``, e.g. 'aot_eager' (no C++
    compiler needed) or 'inductor' (default)."""
    global _JIT_BACKEND
    if not isinstance(name, str) or not name:
        raise TypeError(f"set_jit_backend expects a backend name such as 'inductor', got {name!r}.")
    _JIT_BACKEND = name


def tf32() -> bool:
    """Whether CUDA float32 matmuls and convolutions may use TF32 tensor cores (torch's flags
    ``torch.backends.cuda.matmul.allow_tf32`` and ``torch.backends.cudnn.allow_tf32``)."""
    import torch
    return bool(torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32)


def set_tf32(enabled: bool) -> None:
    """Allow (True) or forbid (False) TF32 for CUDA float32 matmuls and convolutions.

    TF32 keeps float32 storage but rounds matmul inputs to 10 mantissa bits: several times faster
    on Ampere and newer GPUs, not equal to Keras's float32 results. torchkeras_lite never changes
    these flags by itself; this is the one explicit switch (torch's defaults: matmul off, cuDNN
    convolutions on).
    """
    import torch
    if not isinstance(enabled, bool):
        raise TypeError(f"set_tf32 expects True or False, got {enabled!r}.")
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
