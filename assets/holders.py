"""`holder.assets`: the assets linked to a participant, module, node, trial or network, as a
read-only dict by local key.

A model gets it with the `AssetHolder` mixin and a kind name:

    class Node(AssetHolder, models.Model):
        asset_holder_kind = "node"

    class Trial(AssetHolder, models.Model):
        asset_holder_kind = "trial"
        def asset_parents(self):          # trials see their node's assets
            return [self.node]

Writes go through assets.services (`asset_register`, `holder_add_assets`).
"""

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.db.models import CharField, Q
from django.db.models.functions import Cast

from experiments.models import ModuleState
from experiments.timeline.elements import Module

from .models import AssetLink

#: Models of other apps that hold assets without the mixin (the core's Participant): model → kind.
HOLDER_KINDS: dict[type, str] = {}


def register_holder_model(model: type, kind: str) -> None:
    """Let rows of `model` hold assets under `kind` (called from AssetsConfig.ready())."""
    HOLDER_KINDS[model] = kind


def holder_kind(holder: Any) -> str:
    """The holder kind of a model instance ("participant", "node", ...), or "" if it holds none."""
    kind = HOLDER_KINDS.get(type(holder)) or getattr(holder, "asset_holder_kind", "")
    if not kind and hasattr(holder, "_meta"):
        kind = HOLDER_KINDS.get(holder._meta.concrete_model, "")
    return kind


def holder_ref(holder: Any) -> tuple[str, str]:
    """(kind, id) naming a holder: an AssetHolder instance, a timeline Module, or a tuple."""
    if isinstance(holder, tuple) and len(holder) == 2:
        return str(holder[0]), str(holder[1])
    ref = getattr(holder, "asset_holder_ref", None)
    if callable(ref):
        return ref()
    kind = holder_kind(holder)
    if kind:
        if holder.pk is None:
            raise ValueError(f"save the {type(holder).__name__} before using its assets")
        return kind, str(holder.pk)
    if isinstance(holder, Module):
        return "module", holder.id
    raise TypeError(f"{holder!r} cannot hold assets (use the AssetHolder mixin)")


class AssetHolder:
    """Mixin giving a model `.assets` (a dict by local key) and naming it for links."""

    #: The holder kind stored in links ("participant", "node", "trial", "network", ...).
    asset_holder_kind: ClassVar[str] = ""

    def asset_holder_ref(self) -> tuple[str, str]:
        if self.pk is None:  # type: ignore[attr-defined]
            raise ValueError(f"save the {type(self).__name__} before using its assets")
        return self.asset_holder_kind or type(self).__name__.lower(), str(self.pk)  # type: ignore[attr-defined]

    def asset_parents(self) -> list[Any]:
        """Holders whose assets this one also sees (its own keys win)."""
        return []

    def asset_arguments(self) -> dict[str, Any]:
        """What function assets draw missing arguments from (nodes and trials: the definition)."""
        definition = getattr(self, "definition", None)
        return dict(definition) if isinstance(definition, Mapping) else {}

    @property
    def assets(self) -> "AssetDict":
        return AssetDict([self, *self.asset_parents()])

    def add_assets(self, assets: Mapping[str, Any]) -> None:
        """Declare assets on this holder by local key (PsyNet's `add_assets`). Registered now if
        the row is saved; otherwise kept until `assets.services.holder_register_pending(holder)`
        runs after the save (a trial's finalize_definition runs before its first save)."""
        if getattr(self, "pk", None) is None:
            self.pending_assets().update(assets)
            return
        from .services import holder_add_assets

        holder_add_assets(holder=self, assets=assets)


    def pending_assets(self) -> dict[str, Any]:
        """Assets declared before the first save, by local key (registered after it)."""
        pending = getattr(self, "_pending_assets", None)
        if pending is None:
            pending = self._pending_assets = {}
        return pending

    def take_pending_assets(self) -> dict[str, Any]:
        """The pending declarations, forgotten here (the services register them)."""
        pending, self._pending_assets = getattr(self, "_pending_assets", None) or {}, None
        return pending


class AssetDict(Mapping):
    """Assets by local key over one or more holders (first holder wins), loaded in one query on
    first use. `declared` supplies values for keys with no row yet (a module before deploy)."""

    def __init__(self, holders: list[Any], *, declared: Mapping[str, Any] | None = None,
                 extra: Q | None = None) -> None:
        self._refs = [holder_ref(h) for h in holders if h is not None]
        self._declared = dict(declared or {})
        self._extra = extra
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            condition = Q(pk__in=[])
            for kind, id_ in self._refs:
                condition |= Q(holder_kind=kind, holder_id=id_)
            if self._extra is not None:
                condition |= self._extra
            rank = {ref: i for i, ref in enumerate(self._refs)}
            links = sorted(
                AssetLink.objects.filter(condition).select_related("asset"),
                key=lambda link: -rank.get((link.holder_kind, link.holder_id), -1),
            )
            data: dict[str, Any] = dict(self._declared)
            for link in links:  # lowest precedence first; own keys overwrite
                data[link.local_key] = link.asset
            self._data = data
        return self._data

    def __getitem__(self, key: str) -> Any:
        data = self._load()
        if key not in data:
            raise KeyError(f"no asset {key!r} here; keys: {sorted(data)}")
        return data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return f"AssetDict({self._load()!r})"


def module_assets(module: Any, participant: Any = None) -> AssetDict | dict:
    """A module's assets for a participant: those of the module (declared in `Module(assets=)`,
    registered at deploy) and those linked to the participant's ModuleState (theirs win)."""
    if module is None:
        return {}
    extra = None
    if participant is not None and getattr(participant, "pk", None) is not None:
        state_ids = ModuleState.objects.filter(participant=participant, module_id=module.id).annotate(
            text_id=Cast("id", CharField())).values("text_id")
        extra = Q(holder_kind="module_state", holder_id__in=state_ids)
    return AssetDict([("module", module.id)], declared=getattr(module, "assets", {}), extra=extra)
