"""Panels of the Data page, one module each, with module-level handlers the tests call directly.

A panel module exposes `build(studio, page)` (the Data page's shared parts, see `data_page.DataPage`)
or `build(studio)` (a panel that needs nothing shared). The Data page lists them in
`studio/ui/tabs/data.py: PANELS`, the one place to add a panel.
"""
