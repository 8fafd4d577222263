"""Release tooling. Ship a trained run: measured checkpoint, model card and gallery render under one name.

``everscape models ship RUN_DIR --name NAME`` takes the run's ``best.safetensors`` (else
``last.safetensors``) and, in this order:

1. refuses checkpoints over :data:`engine.release.ship.MAX_BYTES` (shipped files live in the repository);
2. measures it with :func:`engine.metrics.evaluate.evaluate` against real crops from the
   *held-out band* of the data it was trained on, prepared as in training (both read from the
   checkpoint header, which ``everscape train`` fills; else from the recipe called ``NAME``),
   and measures the untrained model of the same config (the very weights the run started from:
   the floor to beat) the same way; the report carries real-vs-real (the best possible);
   then runs :mod:`engine.metrics.diagnostics` (colour drift far from the origin, repetition at
   the coordinate period, seams), whose verdicts join the card's goals;
3. writes ``DEST/NAME.safetensors`` (the weights, header updated with the name and a metrics
   summary), then the gallery ``GALLERY/NAME.jpg`` through :func:`engine.export.export`
   (streamed, bounded memory), whose land cover (:mod:`engine.metrics.landcover`: ocean, ice,
   desert, forest and coastline shares against the prepared data's) adds the "draws_*" goals,
   then the card ``DEST/NAME.json`` (:mod:`engine.cards`) last, so a card always describes
   files that exist. Every write is atomic.

Full mode measures as the issue asks (frames at the training crop size, a 100 000 px ∞-SWD
strip, ScaleInv at 1/2/4/8x) and renders 4096x2048; ``quick`` uses ``everscape eval --quick``'s
sets, a short strip and a 512x256 render, for tests and a first look on a CPU.

Modules: ``measure`` (held-out and untrained measurements, goals, the guard against shipping
worse), ``gallery`` (the gallery render and its land cover), ``critics`` (the critic that ships
beside a model), ``ship`` (the ``models ship`` steps, re-measuring and re-diagnosing shipped models).
"""
