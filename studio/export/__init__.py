"""Exporting a tuned model out of the studio: GGUF (llama.cpp / Ollama) with a Modelfile and a model card."""
