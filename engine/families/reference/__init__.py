"""The reference family: a tiny consistent generator for tests and benchmarks (``model``), trained
by the shared adversarial step with the shared options (``trainer``)."""

from __future__ import annotations

from engine.families.reference.model import (
    CONFIGS,
    TEST_CONFIGS,
    ReferenceConfig,
    build,
    config_from_dict,
    real_crop_size,
)
from engine.models.family import Family

FAMILY = Family(
    name="reference",
    config_class=ReferenceConfig,
    configs=CONFIGS,
    test_configs=TEST_CONFIGS,
    build=build,
    config_from_dict=config_from_dict,
    crop_size=real_crop_size,
    trainer="engine.families.reference.trainer:ReferenceTrainer",
    options="engine.train.options:TrainOptions",
)
