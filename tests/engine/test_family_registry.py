"""Family records (``engine.models.family``): capabilities as typed fields, models below trainers."""

from __future__ import annotations

import pytest

from engine.errors import InvalidInput
from engine.models.family import FieldRole
from engine.models.registry import FAMILY_PACKAGES, build_random, get_family, make_trainer
from engine.train.protocol import TrainConfig


@pytest.mark.parametrize("name", list(FAMILY_PACKAGES))
def test_every_family_is_one_trainable_record(name):
    family = get_family(name)
    assert family.name == name and family.trainable
    assert set(family.test_configs) <= set(family.configs)
    config = family.configs[family.test_configs[0]]
    assert isinstance(config, family.config_class)
    assert family.crop_size(config) > 0


def test_field_roles_and_hooks_are_record_fields():
    ig = get_family("infinitygan")
    assert ig.fields_with(FieldRole.COORDINATE) == ("vertical", "v_per_cell")
    assert ig.fields_with(FieldRole.EXTENSION) == ("latitude_bands", "latitude_wander")
    assert "blend" in get_family("alis").fields_with(FieldRole.INFERENCE)
    assert get_family("alis").grow_weights(None, {}, None) is None  # no grow hook: None, not an AttributeError
    prep = get_family("infgan").bluemarble
    assert prep is not None and (prep.scale, prep.drop_bottom) == (0.5, pytest.approx(1 / 6))
    assert get_family("reference").bluemarble is None


def test_make_trainer_dispatches_on_the_models_family():
    model = build_random("reference", "tiny")
    trainer = make_trainer(model, TrainConfig(batch=2, crop=32), "cpu")
    assert trainer.generator is model


def test_unknown_family_is_one_line():
    with pytest.raises(InvalidInput, match="unknown model family 'nope'"):
        get_family("nope")
