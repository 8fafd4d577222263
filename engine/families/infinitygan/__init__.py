"""The InfinityGAN family: a structure synthesizer (``structure``) feeding a padding-free texture
synthesizer (``texture``) under spatially fused styles (``styles``), assembled in ``model``;
``trainer`` holds its training and options."""

from __future__ import annotations

from engine.families.infinitygan.model import (
    CONFIGS,
    COORDINATE_FIELDS,
    EXTENSION_FIELDS,
    INFERENCE_FIELDS,
    TEST_CONFIGS,
    InfinityGANConfig,
    build,
    config_from_dict,
    real_crop_size,
)
from engine.models.family import Family, FieldRole

FAMILY = Family(
    name="infinitygan",
    config_class=InfinityGANConfig,
    configs=CONFIGS,
    test_configs=TEST_CONFIGS,
    build=build,
    config_from_dict=config_from_dict,
    crop_size=real_crop_size,
    trainer="engine.families.infinitygan.trainer:InfinityGANTrainer",
    options="engine.families.infinitygan.trainer:InfinityGANOptions",
    field_roles={
        **dict.fromkeys(INFERENCE_FIELDS, FieldRole.INFERENCE),
        **dict.fromkeys(COORDINATE_FIELDS, FieldRole.COORDINATE),
        **dict.fromkeys(EXTENSION_FIELDS, FieldRole.EXTENSION),
    },
)
