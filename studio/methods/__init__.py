"""Fine-tuning methods: one module per method, each defining `METHOD = Method(...)`.

Add a method by adding a file here (config class + how it wraps a model) and a test; the UI,
YAML validation and `--set method=` pick it up from the registry.
"""

from ..registry import Registry
from .base import Method, MethodConfig

REGISTRY: Registry[Method] = Registry(__name__, "METHOD", "method")

__all__ = ["REGISTRY", "Method", "MethodConfig"]
