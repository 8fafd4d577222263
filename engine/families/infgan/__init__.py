"""The ∞-GAN family: a multi-scale generator on a learned constant (``model``), trained with one
critic per level (``trainer``); ``grow`` grows trained weights into a config with more levels."""

from __future__ import annotations

from engine.families.infgan.model import (
    BLUEMARBLE_OPTIONS,
    CONFIGS,
    TEST_CONFIGS,
    InfGANConfig,
    build,
    config_from_dict,
    real_crop_size,
)
from engine.models.family import DataPreparation, Family

FAMILY = Family(
    name="infgan",
    config_class=InfGANConfig,
    configs=CONFIGS,
    test_configs=TEST_CONFIGS,
    build=build,
    config_from_dict=config_from_dict,
    crop_size=real_crop_size,
    trainer="engine.families.infgan.trainer:InfGANTrainer",
    options="engine.families.infgan.trainer:InfGANOptions",
    grow="engine.families.infgan.grow:grow_weights",
    bluemarble=DataPreparation(
        scale=BLUEMARBLE_OPTIONS["scale"], drop_bottom=BLUEMARBLE_OPTIONS["drop_bottom_fraction"]
    ),
)
