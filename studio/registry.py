"""A name -> entry registry filled from the modules of a package.

Methods and stages are each one small module that defines a module-level entry (`METHOD` or
`STAGE`). Dropping a new file into the package registers it; nothing else has to change. Modules
are imported lazily (on first lookup) and must keep heavy imports (torch, trl) inside functions so
that the UI starts fast.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Generic, Iterator, TypeVar

from .errors import StudioError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, package: str, attribute: str, what: str):
        self._package = package
        self._attribute = attribute
        self._what = what
        self._entries: dict[str, T] | None = None

    def _load(self) -> dict[str, T]:
        if self._entries is None:
            entries: dict[str, T] = {}
            pkg = importlib.import_module(self._package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if info.name.startswith("_"):
                    continue
                module = importlib.import_module(f"{self._package}.{info.name}")
                entry = getattr(module, self._attribute, None)
                if entry is not None:
                    entries[entry.name] = entry
            self._entries = dict(sorted(entries.items(), key=lambda kv: getattr(kv[1], "order", 100)))
        return self._entries

    def names(self) -> list[str]:
        return list(self._load())

    def __iter__(self) -> Iterator[T]:
        return iter(self._load().values())

    def __contains__(self, name: str) -> bool:
        return name in self._load()

    def get(self, name: str) -> T:
        entries = self._load()
        if name not in entries:
            close = difflib.get_close_matches(str(name), entries, n=1)
            if close:
                raise StudioError(key=f"registry.unknown_{self._what}_close", name=name, close=close[0],
                                  entries=', '.join(entries))
            raise StudioError(key=f"registry.unknown_{self._what}", name=name, entries=', '.join(entries))
        return entries[name]
