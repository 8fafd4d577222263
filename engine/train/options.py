"""Training options as frozen dataclasses: shared :class:`TrainOptions`, extended per family.

Why typed: options used to travel as a dict of string keys read with ``.get`` in every trainer, so a
misspelt key was silently its default and each trainer checked ranges its own way. Here an option
is one field made with :func:`option`: its default, its help text, its range or choices (checked in
``__post_init__``, so options that exist are valid) and whether a resumed run keeps it. The CLI
flags of ``everscape train`` are generated from the fields (:mod:`engine.train.option_flags`), and a
run folder records the options that differ from their defaults (``train_extra`` in its header), so a
resume rebuilds them with :func:`options_from_record`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.errors import InvalidInput
from engine.train.augment import parse_policy

Options = TypeVar("Options", bound="TrainOptions")


class OptionError(ValueError):
    """A bad option value; ``name`` is the field, so the CLI can name its flag instead."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name, self.problem = name, problem


def option(
    default: Any,
    help: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[str, ...] | None = None,
    check: Callable[[Any], Any] | None = None,
    kept_on_resume: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A training option: a dataclass field whose metadata the checks and the CLI read.

    ``low``/``high``: the closed range (``low_open``: ``low`` excluded); ``check``: a function that
    raises on a bad value; ``kept_on_resume``: what a resumed run keeps in its saved state that this
    option shapes (a resume that asks for another value is refused, naming it).
    """
    meta = {
        "help": help,
        "low": low,
        "high": high,
        "low_open": low_open,
        "choices": choices,
        "check": check,
        "kept_on_resume": kept_on_resume,
        "metavar": metavar,
    }
    return dataclasses.field(default=default, metadata=meta)


def _check_field(field: dataclasses.Field, value: Any) -> None:
    meta = field.metadata
    if value is None or isinstance(value, bool):
        return
    if meta["choices"] is not None and value not in meta["choices"]:
        raise OptionError(field.name, f"must be one of {', '.join(meta['choices'])}, not {value!r}")
    low, high = meta["low"], meta["high"]
    if low is not None or high is not None:
        too_low = low is not None and (value <= low if meta["low_open"] else value < low)
        if too_low or (high is not None and value > high):
            if high is None:
                raise OptionError(field.name, f"must be {low:g} or more, not {value:g}")
            bracket = "(" if meta["low_open"] else "["
            raise OptionError(field.name, f"must be in {bracket}{low:g}, {high:g}], not {value:g}")
    if meta["check"] is not None:
        try:
            meta["check"](value)
        except InvalidInput as error:
            raise OptionError(field.name, f"is bad: {error}") from None


@dataclass(frozen=True)
class TrainOptions:
    """Options every family's trainer takes."""

    augment: str = option(
        "",
        "augment every critic input, reals and fakes: a comma list of color, translation, cutout, or none",
        check=parse_policy,
        metavar="POLICY",
    )
    critic_warmup: int = option(
        0,
        "train only the critic for the first STEPS steps of the run, e.g. with --init, whose critic starts fresh",
        low=0,
        metavar="STEPS",
    )
    g_lr_warmup: int = option(
        0,
        "ramp the generator's learning rate up linearly over its first STEPS steps (after --critic-warmup), "
        "e.g. with --init, whose optimiser starts with empty moments",
        low=0,
        metavar="STEPS",
    )
    g_lr_scale: float = option(
        1.0,
        "multiply the generator's learning rate by F, e.g. 0.2 with --init: the trained generator moves slowly "
        "while its fresh critic learns at full rate",
        low=0,
        high=10,
        low_open=True,
        kept_on_resume="its learning rates (they are in its optimiser state)",
        metavar="F",
    )
    ema_kimg: float = option(
        10.0,
        "half-life of the generator's moving average (the weights snapshots save) in thousands of images "
        "(StyleGAN2's 10; StyleGAN2-ADA scales it with the batch, 2.5 at a global batch of 8)",
        low=0,
        high=1000,
        low_open=True,
        metavar="K",
    )
    r1_gamma: float = option(
        10.0,
        "weight of the critic's R1 penalty (the papers' 10 for 256-1024 px on GPU batches)",
        low=0,
        high=1000,
        metavar="G",
    )
    cpu_bf16: bool = option(
        False,
        "bf16 mixed precision on the CPU too (opt-in: faster steps where the CPU has bf16 units, AMX or "
        "AVX512-BF16, slower where it has none; regularisers stay fp32)",
    )
    d_channel_base: int | None = option(
        None,
        "the critic's channel base (width at feature size s: base // s; default: the family's)",
        low=1,
        metavar="N",
    )
    d_max_channels: int | None = option(None, "the critic's widest layer (default: the family's)", low=1, metavar="N")

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _check_field(field, getattr(self, field.name))

    def record(self) -> dict[str, Any]:
        """The options that differ from their defaults, as a run header's ``train_extra`` holds them."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}


def options_from_record(cls: type[Options], record: Mapping[str, Any], source: str = "train_extra") -> Options:
    """``cls`` with the recorded values (a header's ``train_extra``, a recipe's options); a key the
    class lacks is an :class:`OptionError` naming it and ``source``."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(record) - names)
    if unknown:
        raise OptionError(unknown[0], f"is not an option of {cls.__name__} ({source})")
    return cls(**dict(record))


def options_for(options: TrainOptions, cls: type[Options]) -> Options:
    """``options`` as the family's class ``cls``: shared options alone become ``cls`` with its own
    at their defaults; another family's options are a ``ValueError``."""
    if isinstance(options, cls):
        return options
    if type(options) is TrainOptions:
        return cls(**{f.name: getattr(options, f.name) for f in dataclasses.fields(TrainOptions)})
    raise ValueError(f"a {cls.__name__} trainer cannot take {type(options).__name__}")


def kept_on_resume(cls: type[TrainOptions]) -> dict[str, str]:
    """Field name -> what a resumed run keeps, for the options a resume may not change."""
    return {f.name: f.metadata["kept_on_resume"] for f in dataclasses.fields(cls) if f.metadata["kept_on_resume"]}


def colour_quantiles_option() -> Any:
    """The colour-quantiles weight, an option of InfinityGAN (per band of latitudes) and ∞-GAN (on
    the coarsest level of its scale pyramid, which lays the world out)."""
    return option(
        0.0,
        "weight W of a loss that asks each band of latitudes (InfinityGAN) or the coarsest level of the scale "
        "pyramid (∞-GAN) for the reals' distribution of colours, mode by mode (sliced optimal transport between "
        "pools of recent real and fake 8x8-averaged colours), for a colour the critics let go (0: off)",
        low=0,
        high=100,
        metavar="W",
    )


def family_options(family: str, values: Mapping[str, Any]) -> TrainOptions:
    """The options class of ``family`` (its ``Family`` record names it) with ``values``."""
    from engine.models.registry import get_family  # the registry names this module's classes

    return options_from_record(get_family(family).options_class(), values)
