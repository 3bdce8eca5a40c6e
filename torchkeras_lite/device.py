"""Device resolution: the one place that probes hardware.

``resolve_device('auto')`` honours the ``TORCHKERAS_LITE_DEVICE`` environment variable, then
``config.device()``, then picks cuda → mps → cpu. Explicit requests for a device that is not
there raise a RuntimeError saying what is available.
"""
from __future__ import annotations

import os
from typing import Union

import torch

from . import config

DeviceLike = Union[str, torch.device, None]
ENV_VAR = "TORCHKERAS_LITE_DEVICE"


def available_devices() -> list[str]:
    """Names of the devices this process can use, e.g. ``['cpu', 'cuda:0']``."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def _auto() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' | torch.device into a usable torch.device.

    Args:
        device: the request; ``None`` and ``'auto'`` mean: the environment variable
            ``TORCHKERAS_LITE_DEVICE`` if set, else ``config.device()`` if not 'auto',
            else cuda → mps → cpu.

    Raises:
        ValueError: the string is not a device name.
        RuntimeError: the device is not available here.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        override = os.environ.get(ENV_VAR) or None
        if override and override != "auto":
            return resolve_device(override)
        if config.device() not in (None, "auto"):
            return resolve_device(config.device())
        return _auto()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device, "
            f"got {device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} was requested but CUDA is not available in this process. "
                f"Available devices: {available_devices()}. Use device='auto' or 'cpu'."
            )
        index = torch.cuda.current_device() if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
                f"device(s) exist. Available devices: {available_devices()}."
            )
        return torch.device("cuda", index)
    if dev.type == "mps" and "mps" not in available_devices():
        raise RuntimeError(
            f"device={device!r} was requested but MPS is not available. "
            f"Available devices: {available_devices()}."
        )
    return dev
