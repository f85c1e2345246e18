"""Experiment tracking: TensorBoard for every run, MLflow / W&B / trackio when the user sets them up."""
