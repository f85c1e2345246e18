"""Gradio, imported without its optional MCP integration (the first import of gradio in the studio).

gradio imports the `mcp` package at start-up whenever it is installed (vllm brings it), only to offer
an MCP server; the studio serves none, and that import costs 0.3-0.8 s of every start (bench/startup.py).
While gradio loads, an import of `mcp` fails, which gradio expects (then it offers no MCP server);
afterwards `mcp` is importable again for anyone who needs it.
"""

from __future__ import annotations

import importlib
import sys


def import_gradio():
    if "gradio" in sys.modules or "mcp" in sys.modules:
        return importlib.import_module("gradio")
    sys.modules["mcp"] = None
    try:
        return importlib.import_module("gradio")
    finally:
        if "mcp" in sys.modules and sys.modules["mcp"] is None:
            del sys.modules["mcp"]


gr = import_gradio()
