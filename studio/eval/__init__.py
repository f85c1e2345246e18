"""Batch evaluation: predictions through the inference engine, metrics, loss, judge, results table."""
