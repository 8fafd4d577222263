"""``everscape train``'s option flags, generated from the option dataclasses' fields.

Every field of :class:`~engine.train.options.TrainOptions` and of each family's options class is one
flag (``--field-name``) with the field's help text; a flag only some families take says which, and
giving it for another family is a one-line error. So a new option is one field, nothing more.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from engine.errors import InvalidInput
from engine.train.options import OptionError, TrainOptions, kept_on_resume, options_from_record


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _value_type(cls: type, name: str) -> type:
    """The field's type without ``None`` (``int | None`` -> ``int``)."""
    hint = typing.get_type_hints(cls)[name]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def option_fields(classes: Mapping[str, type[TrainOptions]]) -> dict[str, tuple[dataclasses.Field, type, list[str]]]:
    """Field name -> (field, value type, the families that take it), over ``classes`` (family -> class)."""
    fields: dict[str, tuple[dataclasses.Field, type, list[str]]] = {}
    for family, cls in classes.items():
        for field in dataclasses.fields(cls):
            if field.name not in fields:
                fields[field.name] = (field, _value_type(cls, field.name), [])
            fields[field.name][2].append(family)
    return fields


def add_option_flags(parser: argparse.ArgumentParser, classes: Mapping[str, type[TrainOptions]]) -> None:
    """One flag per option field of ``classes``; every default is None (not given)."""
    shared = {f.name for f in dataclasses.fields(TrainOptions)}
    for name, (field, kind, families) in option_fields(classes).items():
        meta = field.metadata
        default = field.default
        notes = [] if name in shared else [", ".join(families) + " only"]
        if default not in (None, False, ""):
            notes.append(f"default {default:g}" if isinstance(default, float) else f"default {default}")
        if meta["kept_on_resume"]:
            notes.append("a resumed run keeps its own")
        help_text = meta["help"] + (f" ({'; '.join(notes)})" if notes else "")
        if kind is bool:
            parser.add_argument(flag_name(name), action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(
                flag_name(name),
                type=kind,
                choices=meta["choices"],
                metavar=meta["metavar"],
                default=None,
                help=help_text,
            )


def options_from_flags(
    args: argparse.Namespace,
    family: str,
    cls: type[TrainOptions],
    classes: Mapping[str, type[TrainOptions]],
    base: Mapping[str, Any],
    resumed: Mapping[str, Any] | None,
) -> TrainOptions:
    """The run's options: ``base`` (a recipe's, or a resumed run's record), then the flags given.

    A flag of another family, a bad value, or (``resumed``: the resumed run's record) a new value for
    an option a resumed run keeps is a one-line :class:`InvalidInput` naming the flag.
    """
    values = dict(base)
    kept = kept_on_resume(cls)
    own = {f.name for f in dataclasses.fields(cls)}
    for name, (field, _, families) in option_fields(classes).items():
        given = getattr(args, name, None)
        if given is None:
            continue
        if name not in own:
            raise InvalidInput(f"{flag_name(name)} is for {', '.join(families)}, not {family}")
        if resumed is not None and name in kept and given != resumed.get(name, field.default):
            raise InvalidInput(
                f"a resumed run keeps {kept[name]}: start a new run from its checkpoint with --init "
                f"to change {flag_name(name)}"
            )
        values[name] = given
    try:
        return options_from_record(cls, values)
    except OptionError as error:
        name = flag_name(error.name) if getattr(args, error.name, None) is not None else error.name
        raise InvalidInput(f"{name} {error.problem}") from None
