"""The files Everscape ships besides its code: ``checkpoints/`` (models, cards, critics) and ``resources/``.

In the repository those two folders stay at the root, where training and ``models ship`` write them;
``setup.py`` maps them into this package (``everscape_data/checkpoints``, ``everscape_data/resources``)
so a wheel carries them and :mod:`engine.shipped_data` finds them with :mod:`importlib.resources`
wherever the wheel was installed. This module holds no code on purpose: it is a place, not an API.
"""
