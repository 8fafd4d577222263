"""The one exception family the command line and the app turn into a one-line message.

Anything raised as an :class:`EverscapeError` is the user's problem stated plainly (bad input, a
missing file, a full disk); anything else is our bug and gets a traceback with ``--debug``.
"""


class EverscapeError(Exception):
    """A problem the user can act on; its message is one line and names what is wrong."""


class InvalidInput(EverscapeError, ValueError):
    """An argument or a file's content is malformed (a rect, a layout, an image)."""


class ProjectError(InvalidInput):
    """A project file (or the autosave) is damaged, hostile or of a format this version does not read.

    Its message is one line naming the file, the member and the key, so a user (or a bug report)
    can tell which part of the file is wrong; the app sets such a file aside instead of opening it.
    """


class CheckpointError(EverscapeError):
    """A checkpoint is missing, truncated, of the wrong family, or an unsafe pickle."""


class OutputError(EverscapeError, OSError):
    """Writing a result failed: unwritable folder, full disk, read-only file system."""


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message, or its type's name when it has none.

    Library errors (safetensors, Pillow, torch) often span lines or carry a traceback-like dump;
    a user-facing :class:`EverscapeError` message quotes only this.
    """
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
