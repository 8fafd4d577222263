"""The shared training stack: data, the generic loop, losses, checkpoints, resume, DDP.

The contract between the generic loop and a generator family is :class:`FamilyTrainer` (in
``engine.train.protocol``): a trainable family's record (``engine.models.family.Family``) names
its trainer, ``(model, config: TrainConfig, device) -> FamilyTrainer``, and its ``crop_size``
(the side of the real crops its discriminator sees).

Modules: ``losses`` (GAN losses, R1, path length, WGAN-GP), ``discriminator`` (StyleGAN2 residual
D for any size, aux head), ``adversarial`` (:class:`AdversarialTrainer`, the StyleGAN2-style base
families subclass), ``ema``, ``distributed`` (torchrun/DDP), ``datasets`` (real crops),
``state`` (exact-resume files), ``loop`` (the generic loop), ``reference_trainer``.
"""
