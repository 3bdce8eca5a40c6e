"""Keras layers: reshaping (filled in by its family's change)."""
from __future__ import annotations

__all__: list[str] = []
