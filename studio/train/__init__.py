"""Training: the runner that turns a RunSpec into model + method + stage + trainer."""
