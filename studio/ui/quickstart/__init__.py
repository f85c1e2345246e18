"""The quick start: data -> recipe -> train -> compare in one guided flow (see flow.py)."""
