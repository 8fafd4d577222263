"""The ALIS family: anchors on an endless lattice (``config`` for the design and configs,
``blocks`` and ``model`` for the generator, ``edit`` for resampling a region's anchors,
``trainer`` for its training and options)."""

from __future__ import annotations

from engine.families.alis.config import (
    CONFIGS,
    INFERENCE_FIELDS,
    TEST_CONFIGS,
    ALISConfig,
    config_from_dict,
    real_crop_size,
)
from engine.families.alis.model import build
from engine.models.family import Family, FieldRole

FAMILY = Family(
    name="alis",
    config_class=ALISConfig,
    configs=CONFIGS,
    test_configs=TEST_CONFIGS,
    build=build,
    config_from_dict=config_from_dict,
    crop_size=real_crop_size,
    trainer="engine.families.alis.trainer:ALISTrainer",
    options="engine.families.alis.trainer:ALISOptions",
    field_roles=dict.fromkeys(INFERENCE_FIELDS, FieldRole.INFERENCE),
)
