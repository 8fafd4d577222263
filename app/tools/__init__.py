"""Canvas tools: each turns gestures on the canvas into :class:`~engine.world.World` edits.

A tool never touches torch or renders anything: it reads the shown world (and, for region edits,
the model's latent geometry), and hands the edited world to its ``commit`` callback, which records
it for undo and shows it. See :mod:`app.tools.base` for the hooks the canvas calls.
"""
