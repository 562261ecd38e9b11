"""Typed rows: researcher subclasses of Trial/Node/Network with no migrations (registered in
experiments.row_classes, the one registry of row classes).

`class CustomTrial(StaticTrial)` in an experiment.py becomes a Django *proxy* of the concrete
`Trial` table, automatically (no `class Meta` needed). Rows store the class name in `type`;
loading a row (any queryset, `select_related`, a foreign key) builds an instance of that class.

Why not a library: django-typed-models keeps `type` choices on the field (every new subclass is a
migration) and needs subclasses inside an installed app; django-polymorphic uses one table per
subclass. Experiments are folders loaded at run time, so neither fits.

Subclasses get a private app label (derived from their module, never an installed app), so the
migration autodetector never sees them and two experiments may both define `CustomTrial`. When
several loaded classes share a name (tests load many experiments in one process), the class from
the experiment this process serves wins.
"""

from typing import Any

import django
from django.apps import apps
from django.db import DJANGO_VERSION_PICKLE_KEY, models
from django.db.models.base import ModelBase

from experiments.models import VarStore
from experiments.row_classes import registry
from experiments.timeline.elements import ExperimentError


def _private_app_label(module: str) -> str:
    return "chorus_" + module.replace(".", "_")


class TypedModelBase(ModelBase):
    """Metaclass: a subclass of a concrete typed model is made a proxy with a private app label."""

    def __new__(mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any):
        concrete_parent = any(
            isinstance(base, TypedModelBase) and hasattr(base, "_meta") and not base._meta.abstract
            for base in bases
        )
        if concrete_parent:
            fields = [key for key, value in attrs.items() if isinstance(value, models.Field)]
            if fields:
                raise ExperimentError(
                    f"{name} adds database fields ({', '.join(fields)}); subclasses of trials, nodes and "
                    "networks share one table, so keep extra data in `vars` (e.g. self.var.x = ...)")
            meta = attrs.get("Meta")
            meta_attrs: dict[str, Any] = {"proxy": True}
            if getattr(meta, "app_label", None) is None:
                meta_attrs["app_label"] = _private_app_label(attrs["__module__"])
            attrs["Meta"] = type("Meta", (meta,) if meta is not None else (), meta_attrs)
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        if not cls._meta.abstract:
            registry.register(cls)
        return cls


def _unpickle(base_label: tuple[str, str], type_name: str):
    base = apps.get_model(*base_label)
    cls = registry.resolve(base, type_name) or base
    return cls.__new__(cls)


class TypedManager(models.Manager):
    """On a subclass (`StaticTrial.objects`), only rows of that class and its subclasses."""

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        if self.model._meta.proxy:
            queryset = queryset.filter(type__in=registry.names_for(self.model))
        return queryset


class TypedModel(models.Model, metaclass=TypedModelBase):
    """Abstract base of Network, Node and Trial: a `type` column and free-form `vars`."""

    type = models.CharField(max_length=100, db_index=True, editable=False,
                            help_text="the Python class of this row (its name)")
    vars = models.JSONField(default=dict, blank=True, help_text="extra per-row data")

    objects = TypedManager()

    class Meta:
        abstract = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Rows loaded from the database arrive as positional values and already carry their type.
        if not args and not self.type:
            self.type = type(self).__name__

    @classmethod
    def from_db(cls, db, field_names, values):
        target = cls
        try:
            value = values[list(field_names).index("type")]
        except ValueError:
            pass
        else:
            found = registry.resolve(cls._meta.concrete_model, value)
            if found is not None and issubclass(found, cls):
                target = found
        return models.Model.from_db.__func__(target, db, field_names, values)

    def __reduce__(self):
        # Private app labels are not installed apps: unpickle through the registry instead.
        data = self.__getstate__()
        data[DJANGO_VERSION_PICKLE_KEY] = django.__version__
        concrete = self._meta.concrete_model._meta
        return _unpickle, ((concrete.app_label, concrete.object_name), type(self).__name__), data

    @property
    def var(self):
        """Attribute access to `vars`: `trial.var.difficulty = 3`."""
        return VarStore(self)


def check_type_name(cls: type) -> None:
    """Raise ExperimentError if `cls` is not a registered typed class (used by trial makers)."""
    if not isinstance(cls, TypedModelBase) or registry.resolve(cls._meta.concrete_model, cls.__name__) is None:
        raise ExperimentError(f"{cls!r} is not a Trial, Node or Network class")
