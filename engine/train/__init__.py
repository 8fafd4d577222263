"""The shared training stack: data, the generic loop, losses, checkpoints, resume, DDP.

The contract between the generic loop and a generator family is :class:`FamilyTrainer` (in
``engine.train.protocol``): a trainable family's record (``engine.models.family.Family``) names
its trainer, ``(model, config: TrainConfig, device) -> FamilyTrainer``, and its ``crop_size``
(the side of the real crops its discriminator sees).

Modules: ``losses`` (GAN losses, R1, path length, WGAN-GP), ``discriminator`` (StyleGAN2 residual
D for any size, aux head), ``adversarial`` (:class:`AdversarialTrainer`, the StyleGAN2-style base
families subclass), ``ema``, ``distributed`` (torchrun/DDP), ``datasets`` (real crops),
``state`` (exact-resume files), ``loop`` (the generic loop). The family trainers live with their
models (``engine.families.<name>.trainer``) and reach this stack from above: the loop finds them
through the family's record, by import path, never by a static import.
From the command line to a run: ``options`` (typed training options) and ``option_flags`` (the
flags generated from them), ``launch`` (defaults, recipe, model, data), ``warm_start`` (``--init``),
``resume`` (which saved runs can be resumed), ``interrupt`` (Ctrl-C).
"""
