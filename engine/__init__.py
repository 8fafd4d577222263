"""Everscape engine: consistent generators of endless images, in pure PyTorch and NumPy.

The engine never imports Qt: the desktop app (``app``) and the command line are both its clients.
Its central promise is that a world is a pure function from a pixel rectangle to pixels.
"""

__version__ = "0.1.0"
