"""The FIT profile (message, field and type definitions), taken from installed libraries.

The profile is never retyped here: it is read from ``fitparse.profile`` (FIT SDK
20.8), which is also the reference decoder irisin is tested against, and
messages that SDK 20.8 lacks (e.g. ``time_in_zone``, 216) are taken from the
newer ``garmin_fit_sdk`` profile when that package is installed.

Both are converted once, at import, into the small frozen records below so the
decoder needs no knowledge of either library's classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from fitparse import profile as _fitparse_profile

TIMESTAMP_FIELD = 253
"""Field number of ``timestamp`` in every message (the profile's common field)."""


@dataclass(frozen=True)
class ComponentSpec:
    """A bit range of a field that expands into another field of the same message."""

    target_num: int
    bits: int
    bit_offset: int
    scale: float | None
    offset: float | None
    accumulate: bool


@dataclass(frozen=True)
class SubfieldSpec:
    """An alternative name/scale of a field, chosen by the raw value of another field."""

    name: str
    scale: float | None
    offset: float | None
    refs: tuple[tuple[int, int], ...]
    """(reference field number, raw value) pairs; any one matching selects the subfield."""
    components: tuple[ComponentSpec, ...] = ()


@dataclass(frozen=True)
class FieldSpec:
    """One field of a message as the profile defines it."""

    num: int
    name: str
    type_name: str
    scale: float | None
    offset: float | None
    units: str | None
    components: tuple[ComponentSpec, ...] = ()
    subfields: tuple[SubfieldSpec, ...] = ()


@dataclass(frozen=True)
class MessageSpec:
    """One global message of the profile."""

    num: int
    name: str
    fields: dict[int, FieldSpec]

    def field_num(self, name: str) -> int | None:
        for num, spec in self.fields.items():
            if spec.name == name:
                return num
        return None


def _none_if_trivial(value: Any, neutral: float) -> float | None:
    return None if value is None or value == neutral else value


def _from_fitparse_components(components: Any) -> tuple[ComponentSpec, ...]:
    return tuple(
        ComponentSpec(
            target_num=c.def_num,
            bits=c.bits,
            bit_offset=c.bit_offset,
            scale=c.scale,
            offset=c.offset,
            accumulate=bool(c.accumulate),
        )
        for c in (components or ())
    )


def _from_fitparse() -> dict[int, MessageSpec]:
    messages: dict[int, MessageSpec] = {}
    for num, mesg in _fitparse_profile.MESSAGE_TYPES.items():
        fields: dict[int, FieldSpec] = {}
        for fnum, f in mesg.fields.items():
            subfields = tuple(
                SubfieldSpec(
                    name=s.name,
                    scale=s.scale,
                    offset=s.offset,
                    refs=tuple((r.def_num, r.raw_value) for r in s.ref_fields),
                    components=_from_fitparse_components(s.components),
                )
                for s in (f.subfields or ())
            )
            fields[fnum] = FieldSpec(
                num=fnum,
                name=f.name,
                type_name=f.type.name,
                scale=f.scale,
                offset=f.offset,
                units=f.units,
                components=_from_fitparse_components(f.components),
                subfields=subfields,
            )
        messages[num] = MessageSpec(num=num, name=mesg.name, fields=fields)
    return messages


def _from_garmin_sdk(known: set[int]) -> dict[int, MessageSpec]:
    """Messages missing from fitparse's profile, from the official Python SDK if installed."""
    try:
        from garmin_fit_sdk.profile import Profile
    except ImportError:  # optional: without it only the newest messages are unnamed
        return {}
    messages: dict[int, MessageSpec] = {}
    for num, mesg in Profile["messages"].items():
        if num in known:
            continue
        fields: dict[int, FieldSpec] = {}
        for fnum, f in mesg["fields"].items():
            comps = tuple(
                ComponentSpec(
                    target_num=target,
                    bits=bits,
                    bit_offset=sum(f["bits"][:i]),
                    scale=_none_if_trivial(f["scale"][i] if i < len(f["scale"]) else 1, 1),
                    offset=_none_if_trivial(f["offset"][i] if i < len(f["offset"]) else 0, 0),
                    accumulate=bool(f.get("is_accumulated")),
                )
                for i, (target, bits) in enumerate(zip(f["components"], f["bits"], strict=False))
            )
            fields[fnum] = FieldSpec(
                num=fnum,
                name=f["name"],
                type_name=f["type"],
                scale=None if comps else _none_if_trivial(f["scale"][0], 1),
                offset=None if comps else _none_if_trivial(f["offset"][0], 0),
                units=f["units"] if isinstance(f["units"], str) and f["units"] else None,
                components=comps,
                subfields=tuple(
                    SubfieldSpec(
                        name=s["name"],
                        scale=_none_if_trivial(s["scale"][0], 1) if s.get("scale") else None,
                        offset=_none_if_trivial(s["offset"][0], 0) if s.get("offset") else None,
                        refs=tuple((m["num"], m["raw_value"]) for m in s["map"]),
                    )
                    for s in f["sub_fields"]
                ),
            )
        messages[num] = MessageSpec(num=num, name=mesg["name"], fields=fields)
    return messages


@cache
def messages() -> dict[int, MessageSpec]:
    """Every known global message, keyed by message number."""
    base = _from_fitparse()
    return {**base, **_from_garmin_sdk(set(base))}


@cache
def message_numbers() -> dict[str, int]:
    """Global message number by message name."""
    return {spec.name: num for num, spec in messages().items()}


def message(num: int) -> MessageSpec:
    """The profile entry of a global message, or an empty ``unknown_<num>`` entry."""
    spec = messages().get(num)
    return spec if spec is not None else MessageSpec(num=num, name=f"unknown_{num}", fields={})


@cache
def type_values(type_name: str) -> dict[int, str]:
    """Names of an enumerated profile type's values (e.g. ``sport``, ``manufacturer``)."""
    found: dict[int, str] = {}
    try:
        from garmin_fit_sdk.profile import Profile

        found.update({int(k): v for k, v in Profile["types"].get(type_name, {}).items()})
    except ImportError:
        pass
    ftype = _fitparse_profile.FIELD_TYPES.get(type_name)
    if ftype is not None and ftype.values:
        found.update(ftype.values)
    return found


def value_name(type_name: str, raw: int | None) -> str | None:
    """Profile name of one enumerated value, ``None`` for a missing value, the number if unnamed."""
    if raw is None:
        return None
    return type_values(type_name).get(int(raw), str(int(raw)))


@cache
def _base_type_numbers() -> dict[str, int]:
    from fitparse.records import BASE_TYPES

    return {b.name: num for num, b in BASE_TYPES.items()}


def base_type_number(message_num: int, field_num: int) -> int:
    """FIT base type number of a profile field, as a writer puts it in a definition message."""
    numbers = _base_type_numbers()
    fp_mesg = _fitparse_profile.MESSAGE_TYPES.get(message_num)
    if fp_mesg is not None and field_num in fp_mesg.fields:
        ftype = fp_mesg.fields[field_num].type
        base = ftype if not hasattr(ftype, "base_type") else ftype.base_type
        return numbers[base.name]
    from garmin_fit_sdk.profile import Profile

    return numbers[Profile["messages"][message_num]["fields"][field_num]["base_type"]]
