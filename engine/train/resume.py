"""Which saved runs this version can resume, and the one-line refusal for the others.

A resume must rebuild the trainer the run was started with and draw the numbers the uninterrupted
run would have drawn. Options that were dropped (failed experiments) and resume modes kept only
for runs from before an option existed are gone, so a run that used them cannot be continued
exactly: it is refused in one line naming the run format, and its checkpoint can still start a
new run (``--init``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import CheckpointError

#: Format of the run facts (``meta``) a training state records; runs without one are format 1.
RUN_FORMAT = 2

#: Trainer options of format-1 runs this version no longer has (failed experiments).
DROPPED_OPTIONS = ("colour_critic", "colour_quantile_cells", "vpos_weight", "g_trainable")


def refuse_old_run(path: str | Path, what: str) -> CheckpointError:
    """The one-line refusal for the run at ``path``, which needs ``what`` this version dropped."""
    return CheckpointError(
        f"{path} is a run of format 1 ({what}), which Everscape {__version__} (run format {RUN_FORMAT}) "
        "cannot resume: start a new run from its checkpoint with --init"
    )


def check_resumable(meta: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The options (``train_extra``) of the run whose saved ``meta`` this is, if this version can
    resume it exactly; else a :class:`CheckpointError` naming what it needs."""
    options = dict(meta.get("train_extra") or {})
    if meta.get("run_format") == RUN_FORMAT:
        return options
    dropped = [key for key in DROPPED_OPTIONS if key in options]
    if dropped:
        raise refuse_old_run(path, f"trained with {', '.join(dropped)}")
    if "crop_sampling" not in meta:
        raise refuse_old_run(path, "crops drawn before the crop sampling was recorded")
    if options.get("fake_rows", "frame") != "frame":
        raise refuse_old_run(path, f"fakes placed by {options['fake_rows']}")
    options.pop("fake_rows", None)  # every run places its fakes as the frames now
    return options
