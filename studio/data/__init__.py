"""Training data: reading files, detecting their shape, checking rows, and preparing trl datasets."""
