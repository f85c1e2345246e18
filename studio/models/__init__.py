"""Models: the registry of names users pick from, and loading them for training or inference."""

from .registry import EMBEDDED, TINY, ModelRef, known_models, resolve

__all__ = ["EMBEDDED", "TINY", "ModelRef", "known_models", "resolve"]
