"""Generator families as plug-ins: one package per family (``engine.families.<name>``).

A family package holds its model (``model`` and the modules it is built from), its trainer and
training options (``trainer``) and, where it has one, its warm-start growth (``infgan.grow``). Its
``__init__`` defines one :class:`~engine.models.family.Family` record, ``FAMILY``, which
:func:`engine.models.registry.get_family` finds by the family's name.

Why families sit above the shared stack: a family uses the engine's layers, fields and
render protocol (``engine.models.base``) and, in its trainer, the shared training stack
(``engine.train``), while that stack reaches a family only through its record, by import path.
So the render path never loads a trainer, and a family's model modules never import one (an
import-linter contract in ``pyproject.toml``).
"""
