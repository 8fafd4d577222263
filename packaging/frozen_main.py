"""Entry script of the frozen (PyInstaller) build: the ``everscape`` command, GUI when started without arguments."""

import multiprocessing
import sys

from engine.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch and the tile worker may start child processes
    sys.exit(main())
