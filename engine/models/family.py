"""A model family's capabilities as one typed record, so callers read fields instead of probing modules.

Every family (InfinityGAN, ALIS, ∞-GAN, the reference) defines one :class:`Family` in its package
(``engine.families.<name>``, found by :mod:`engine.models.registry`): how to build and describe
its models, the side of the real crops its critic sees, which config fields a warm start may
change (their :class:`FieldRole`), how to grow trained weights into a larger config, and its
trainer and training options.

Why trainers and options are named by import path (``"package.module:name"``) and not held as
objects: the shared stack reaches a family only through its record (models never import trainers), and rendering must
never load the training stack. :meth:`Family.make_trainer` and :meth:`Family.options_class`
import them on first use.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidInput


class FieldRole(enum.Enum):
    """What a config field means to a warm start (``everscape train --init``) that changes it."""

    #: Changes how a trained model renders, not its weights: may differ freely.
    INFERENCE = "inference"
    #: Shapes the coordinate inputs, not the weights: the run re-learns the map from coordinates to
    #: content (the trained critic still fits), recorded as ``recoordinated_from``.
    COORDINATE = "coordinate"
    #: Adds parameters that start as a no-op: a model without them is extended and renders as before,
    #: recorded as ``extended_from``.
    EXTENSION = "extension"


@dataclass(frozen=True)
class DataPreparation:
    """A family's own preparation of a data set (used for the flags a user leaves out)."""

    scale: float = 1.0
    drop_bottom: float = 0.0


@dataclass(frozen=True)
class Family:
    """One generator family: everything the rest of the program may ask of it."""

    name: str
    config_class: type
    #: Named configurations (``tiny`` for tests).
    configs: Mapping[str, Any]
    #: The configs the consistency kit checks in CI.
    test_configs: tuple[str, ...]
    build: Callable[[Any], Any]
    config_from_dict: Callable[[dict[str, Any]], Any]
    #: Side of the real crops the family's critic sees, for a config (None: not trainable).
    crop_size: Callable[[Any], int] | None = None
    #: ``"module:function"`` making its trainer: ``(model, TrainConfig, device) -> FamilyTrainer``.
    trainer: str | None = None
    #: ``"module:Class"`` of its frozen training-options dataclass (``engine.train.options``).
    options: str | None = None
    #: Config fields a warm start may change, by role.
    field_roles: Mapping[str, FieldRole] = field(default_factory=dict)
    #: ``"module:function"`` growing trained weights into a larger config:
    #: ``(old_config, weights, new_config) -> weights`` (a one-line ``InvalidInput`` if it cannot).
    grow: str | None = None
    #: Its own preparation of the Blue Marble map (None: the map as it is).
    bluemarble: DataPreparation | None = None

    @property
    def trainable(self) -> bool:
        return self.trainer is not None and self.crop_size is not None

    def fields_with(self, role: FieldRole) -> tuple[str, ...]:
        """The config fields of ``role``, in declaration order."""
        return tuple(name for name, r in self.field_roles.items() if r is role)

    def make_trainer(self, model: Any, config: Any, device: Any) -> Any:
        """The family's trainer for ``model`` (imported on first use)."""
        if self.trainer is None:
            raise InvalidInput(f"model family {self.name!r} cannot be trained in this build")
        return load_attribute(self.trainer)(model, config, device)

    def options_class(self) -> type:
        """Its training-options dataclass (imported on first use)."""
        if self.options is None:
            raise InvalidInput(f"model family {self.name!r} cannot be trained in this build")
        return load_attribute(self.options)

    def grow_weights(self, old: Any, weights: dict[str, Any], new: Any) -> dict[str, Any] | None:
        """``weights`` of config ``old`` grown into ``new``; None when the family cannot grow."""
        return None if self.grow is None else load_attribute(self.grow)(old, weights, new)


def load_attribute(path: str) -> Any:
    """The object a ``"package.module:name"`` path names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
