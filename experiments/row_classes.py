"""One registry of row classes: rows that carry their Python class in a column load back as
that class, with no migration for a new subclass.

Trials, nodes and networks (trials.typed: the `type` column, researcher subclasses become
proxies) and sync groups (sync.models: `group_class`) register here. Names are looked up per
concrete model; when several loaded classes share a name (tests load many experiments in one
process) the class from the experiment this process serves wins. No locks, no queries.
"""

from collections import defaultdict

from .loading import served_package


class TypeRegistry:
    """Concrete model → type name → classes registered under that name (oldest first)."""

    def __init__(self) -> None:
        self._classes: dict[type, dict[str, list[type]]] = defaultdict(lambda: defaultdict(list))

    def register(self, cls: type, base: type | None = None) -> None:
        """`base`: the concrete model, when `cls._meta` is not built yet (`__init_subclass__`)."""
        base = base or cls._meta.concrete_model
        entries = self._classes[base][cls.__name__]
        # Re-importing the same module replaces its class instead of adding a second one.
        entries[:] = [c for c in entries if (c.__module__, c.__qualname__) != (cls.__module__, cls.__qualname__)]
        entries.append(cls)

    def resolve(self, base: type, name: str) -> type | None:
        entries = self._classes[base].get(name)
        if not entries:
            return None
        if len(entries) == 1:
            return entries[0]
        package = served_package()
        for cls in reversed(entries):
            if cls.__module__.split(".")[0] == package:
                return cls
        return entries[-1]

    def names_for(self, cls: type) -> list[str]:
        """The type names of `cls` and every registered subclass of it (for proxy querysets)."""
        return sorted(
            name for name, entries in self._classes[cls._meta.concrete_model].items()
            if any(issubclass(entry, cls) for entry in entries)
        )


registry = TypeRegistry()
