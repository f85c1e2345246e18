"""Inference: one engine interface (transformers, vLLM), an OpenAI-compatible server job, a client."""

from .base import Completion, Engine, Sampling

__all__ = ["Completion", "Engine", "Sampling"]
