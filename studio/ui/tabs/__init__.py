"""One module per tab; each has `build(studio, handles)` and returns what other tabs may use."""
