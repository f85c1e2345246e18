"""Replay ("Keep general abilities"): the base model's own answers to bundled general prompts, mixed
into SFT data so that a small task does not overwrite what the model knew.

- `prompts`: the bundled prompt set (assets/general_prompts/), split once into a MIX part (may be
  trained on) and a PROBE part (never trained on; the probe report's "kept" questions).
- `cache`: the base's greedy answers, generated once per base model (name + revision + weights
  fingerprint) on the inference engine and extended on later runs; written atomically under a lock.
- `mix`: the rows a run adds to its training data.
"""
