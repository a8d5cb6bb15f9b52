"""Oracle's documented objects, as data: names, types, multiplicity, lengths and sources.

Each service's objects are listed in ``gateway/contract/<Service>.toml``, one table per
object, with the evidence for every attribute (an Oracle page, an interface table, a
real client's payload). Everything else is derived from these files: the spyne types
the WSDLs publish (``gateway.services.types``), the order-tolerant reading of requests
(``gateway.soap.normalize``), which attributes are kept and returned, and the contract
tests' corpus. So checking omgw against Oracle means reading these files.

A field line is ``Name  type  occurs  length  sources``:

- ``type`` is a scalar (``string``, ``long``, ``int``, ``decimal``, ``boolean``,
  ``dateTime``, ``date``, ``MeasureType``, ``AmountType``, ``base64``, ``any``:
  customer-defined content such as extensible flexfields, kept as sent) or the name of
  another object of the same file;
- ``occurs`` is ``0..1`` (optional), ``*`` (repeated), or, in answers, ``1`` (always
  written, ``xsi:nil`` when there is no value);
- ``length`` is the longest value accepted, or ``-``;
- ``sources`` are keys of the file's ``[sources]`` table.

An object's ``pages`` say where it is described; ``complete`` says whether those gave
its whole attribute list (Oracle's pages are public only in part: see the README).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache, cached_property
from importlib import resources
from types import MappingProxyType

__all__ = [
    "SCALARS",
    "Field",
    "ModelError",
    "ObjectType",
    "ServiceModel",
    "load",
    "parse",
]

#: the scalar type names a field may have
SCALARS = frozenset(
    {"string", "long", "int", "decimal", "boolean", "dateTime", "date", "MeasureType",
     "AmountType", "base64", "any"}
)  # fmt: skip
_OCCURS = {"1": (1, False), "0..1": (0, False), "*": (0, True), "1..*": (1, True)}


@dataclass(frozen=True)
class Field:
    """One attribute of an object."""

    name: str
    type: str
    min_occurs: int
    many: bool
    length: int | None
    sources: tuple[str, ...]

    @property
    def scalar(self) -> bool:
        return self.type in SCALARS


@dataclass(frozen=True)
class ObjectType:
    """One documented object (an SDO), its attributes in the order they are published."""

    name: str
    namespace: str
    title: str
    fields: tuple[Field, ...]
    #: where the object is described (Oracle's pages, public client code)
    pages: tuple[str, ...] = ()
    #: whether the sources gave the whole attribute list (false: part of it)
    complete: bool = False
    #: ``Service:Object`` whose fields this object also has (see :func:`load`)
    mirror: str | None = None
    mirror_except: tuple[str, ...] = ()
    #: put before the name of a mirrored child object this service documents otherwise
    mirror_prefix: str = ""

    @cached_property
    def by_name(self) -> Mapping[str, Field]:
        return MappingProxyType({f.name: f for f in self.fields})

    def field(self, name: str) -> Field | None:
        return self.by_name.get(name)


@dataclass(frozen=True)
class ServiceModel:
    """The objects of one service and the sources they cite."""

    service: str
    namespace: str
    objects: Mapping[str, ObjectType]
    sources: Mapping[str, str]

    def __getitem__(self, name: str) -> ObjectType:
        return self.objects[name]


class ModelError(ValueError):
    """A model file that does not describe a usable contract (a bug in the file)."""


def _fields(obj: str, text: str, sources: Mapping[str, str]) -> tuple[Field, ...]:
    out: list[Field] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 4:
            raise ModelError(f"{obj}, field line {number}: expected 'Name type occurs length'")
        name, type_, occurs, length, *cited = parts
        if name in seen:
            raise ModelError(f"{obj}: field {name} is listed twice")
        seen.add(name)
        if occurs not in _OCCURS:
            raise ModelError(f"{obj}.{name}: occurs {occurs!r} is not one of {sorted(_OCCURS)}")
        unknown = [s for s in cited if s not in sources]
        if unknown:
            raise ModelError(f"{obj}.{name}: unknown source(s) {unknown}")
        min_occurs, many = _OCCURS[occurs]
        out.append(
            Field(name, type_, min_occurs, many, None if length == "-" else int(length),
                  tuple(cited))
        )  # fmt: skip
    return tuple(out)


def parse(service: str, text: str) -> ServiceModel:
    """A service model from the text of its TOML file (checked: see :class:`ModelError`).

    Mirrors are recorded, not resolved: :func:`load` resolves them.
    """
    data = tomllib.loads(text)
    namespace = data["namespace"]
    sources = dict(data.get("sources", {}))
    objects: dict[str, ObjectType] = {}
    for name, spec in data.get("objects", {}).items():
        objects[name] = ObjectType(
            name=name,
            namespace=spec.get("namespace", namespace),
            title=spec.get("title", name),
            fields=_fields(name, spec.get("fields", ""), sources),
            pages=tuple(spec.get("pages", ())),
            complete=bool(spec.get("complete", False)),
            mirror=spec.get("mirror"),
            mirror_except=tuple(spec.get("mirror_except", ())),
            mirror_prefix=spec.get("mirror_prefix", ""),
        )
    for obj in objects.values():
        for f in obj.fields:
            if not f.scalar and f.type not in objects:
                raise ModelError(f"{obj.name}.{f.name}: type {f.type!r} is neither a scalar "
                                 "nor an object of this file")  # fmt: skip
    return ServiceModel(service, namespace, MappingProxyType(objects), MappingProxyType(sources))


@cache
def load(service: str) -> ServiceModel:
    """The model of ``service`` (``OrderImportService`` …), read once per process.

    An object that ``mirror``-s another service's object also has every field of that
    object it does not list itself (but those in ``mirror_except``), optional, with the
    child objects copied into this service's namespace; a copied child takes the
    ``mirror_prefix`` where this service documents an object of the same name.
    GetOrderDetails answers this way with every attribute an order was imported with.
    """
    text = resources.files("gateway.contract").joinpath(f"{service}.toml").read_text("utf-8")
    model = parse(service, text)
    objects = dict(model.objects)
    sources = dict(model.sources)
    for obj in model.objects.values():
        if obj.mirror is None:
            continue
        other_service, other_name = obj.mirror.split(":")
        other = load(other_service)
        sources.update({k: v for k, v in other.sources.items() if k not in sources})
        copier = _Copier(other, objects, obj.namespace, obj.mirror_prefix)
        objects[obj.name] = copier.extend(obj, other[other_name], obj.mirror_except)
    return ServiceModel(service, model.namespace, MappingProxyType(objects),
                        MappingProxyType(sources))  # fmt: skip


@dataclass
class _Copier:
    """Copies another service's objects into this one (see :func:`load`)."""

    other: ServiceModel
    objects: dict[str, ObjectType]
    namespace: str
    prefix: str

    def extend(self, obj: ObjectType, source: ObjectType, skip: tuple[str, ...]) -> ObjectType:
        own = {f.name for f in obj.fields} | set(skip)
        added = [
            replace(f, min_occurs=0, type=f.type if f.scalar else self.copy(f.type))
            for f in source.fields
            if f.name not in own
        ]
        return replace(obj, fields=obj.fields + tuple(added))

    def copy(self, name: str) -> str:
        """The local name of a copy of the other service's object ``name``."""
        source = self.other[name]
        for local in (name, self.prefix + name):
            existing = self.objects.get(local)
            if existing is None:
                break
            if existing.mirror == f"{self.other.service}:{name}":
                return local
        else:
            raise ModelError(f"{self.other.service}:{name} cannot be copied: both {name} and "
                             f"{self.prefix + name} are taken")  # fmt: skip
        marker = f"{self.other.service}:{name}"
        stub = replace(source, name=local, namespace=self.namespace, fields=(), mirror=marker)
        self.objects[local] = stub  # first: a child that refers back finds it
        self.objects[local] = self.extend(stub, source, ())
        return local
