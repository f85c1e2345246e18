"""Merging adapters into their base model, verified against the unmerged adapter."""
