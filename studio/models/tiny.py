"""`tiny-random-llama`: a 2-layer Llama with random weights and the embedded tokenizer.

Built from a config in about a second (after the tokenizer is cached); it makes every code path
(training, merging, serving) testable fast. It learns, but it knows nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .cache import build_once
from .embedded import ensure_tokenizer

NAME = "tiny-random-llama"


def ensure_tiny(progress: Callable[[float, str], None]) -> Path:
    def build(tmp: Path) -> None:
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        tok = AutoTokenizer.from_pretrained(ensure_tokenizer(progress))
        progress(0.5, "Building the tiny random Llama")
        config = LlamaConfig(
            vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=2048,
            tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id, rms_norm_eps=1e-5,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(config)
        model.generation_config.pad_token_id = tok.pad_token_id
        model.generation_config.eos_token_id = tok.eos_token_id
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)

    return build_once(NAME, build)
