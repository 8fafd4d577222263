"""Reading a training run from outside: ``everscape train``'s stdout lines -> a job's state.

The training command prints one JSON object per line (see :mod:`engine.commands.train`):
progress lines (``step``, ``kimg``, losses, ``img_per_s``, ``eta_s``) and event lines
(``{"event": "sample"|"snapshot"|"done", ...}``). A front end that runs training in a separate
process (the app's training panel, a notebook, a script) feeds raw output chunks to a
:class:`LineBuffer`, turns each line into an event with :func:`parse_line`, and folds the events
into a :class:`JobState`. Nothing here needs Qt, so the reducer is tested without a GUI, and a
crash of the training process can only ever end one job, never the viewer.

:func:`train_arguments` builds the command line for a :class:`JobSpec` (the panel's form).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

#: Keys of a progress line that are bookkeeping, not metrics to plot.
BOOKKEEPING = frozenset({"step", "kimg", "img_per_s", "eta_s"})

#: Statuses a job can end in.
FINAL = frozenset({"finished", "failed", "stopped"})


class LineBuffer:
    """Split a byte/str stream into complete lines; a partial last line waits for the next chunk."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, chunk: bytes | str) -> list[str]:
        text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else chunk
        *lines, self._pending = (self._pending + text).split("\n")
        return [line.rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        """At end of stream: the unterminated last line, if any."""
        rest, self._pending = self._pending.rstrip("\r"), ""
        return [rest] if rest else []


@dataclass(frozen=True)
class Event:
    """One parsed line: ``kind`` is ``progress``, ``sample``, ``snapshot``, ``done``, ``event``
    (another event name, kept for forward compatibility) or ``text`` (not a JSON object)."""

    kind: str
    data: dict[str, Any]
    line: str


def parse_line(line: str) -> Event | None:
    """One stdout line -> an :class:`Event`; blank lines -> ``None``. Never raises on garbage."""
    text = line.strip()
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return Event("text", {}, text)
    if not isinstance(data, dict):
        return Event("text", {}, text)
    if "event" in data:
        name = str(data["event"])
        return Event(name if name in ("sample", "snapshot", "done") else "event", data, text)
    if isinstance(data.get("step"), int):
        return Event("progress", data, text)
    return Event("text", {}, text)


@dataclass
class JobState:
    """What is known about one training job, built only from its output and exit status.

    ``status``: ``starting`` -> ``running`` (first progress line) -> ``finished`` / ``stopped`` /
    ``failed``. ``metrics[name]`` is the list of ``(step, value)`` points of every numeric metric;
    ``held_out_swd`` the snapshots' held-out scores, which say whether the model still improves
    (another scale than the losses, so a read-out rather than a curve on their plot).
    """

    status: str = "starting"
    step: int = 0
    kimg: float = 0.0
    img_per_s: float | None = None
    eta_s: float | None = None
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    held_out_swd: list[tuple[int, float]] = field(default_factory=list)
    last_sample: str | None = None
    last_snapshot: str | None = None
    stopped: str | None = None  # the loop's reason from the ``done`` event: steps, time, abort
    stop_requested: bool = False
    reason: str | None = None  # one line: why a job failed
    log: list[str] = field(default_factory=list)
    max_log: int = 2000

    def apply(self, event: Event) -> None:
        if event.kind == "progress":
            data = event.data
            self.status = "running" if self.status == "starting" else self.status
            self.step = int(data["step"])
            self.kimg = float(data.get("kimg", self.kimg))
            self.img_per_s = _number(data.get("img_per_s"))
            self.eta_s = _number(data.get("eta_s"))
            for key, value in data.items():
                number = _number(value)
                if key not in BOOKKEEPING and number is not None:
                    self.metrics.setdefault(key, []).append((self.step, number))
        elif event.kind == "sample":
            self.last_sample = str(event.data.get("path"))
        elif event.kind == "snapshot":
            self.last_snapshot = str(event.data.get("path"))
            held_out = _number(event.data.get("held_out_swd"))
            if held_out is not None:
                self.held_out_swd.append((self.step, held_out))
        elif event.kind == "done":
            self.stopped = str(event.data.get("stopped"))
            if isinstance(event.data.get("step"), int):
                self.step = event.data["step"]
        else:
            self.add_log(event.line)

    def add_log(self, line: str) -> None:
        self.log.append(line)
        del self.log[: -self.max_log]

    def finish(self, exit_code: int | None, stderr_tail: str = "") -> None:
        """The process ended with ``exit_code`` (``None``: killed or crashed by a signal).

        A clean run that reported ``done`` is finished; one that was asked to stop and wrote its
        snapshot (the CLI exits 130 then) is stopped; anything else failed, with the last line of
        stderr (the CLI's one-line error, or a traceback's last line) as the reason.
        """
        if self.stopped is not None and exit_code in (0, 130):
            self.status = "stopped" if self.stopped == "abort" else "finished"
        elif self.stop_requested:
            self.status = "stopped"
        else:
            self.status = "failed"
            self.reason = last_line(stderr_tail) or (
                f"exited with code {exit_code}" if exit_code is not None else "killed"
            )

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def summary(self) -> str:
        """The one-line status: step, speed, time left and held-out score (or why it ended)."""
        parts = [self.status, f"step {self.step}", f"{self.kimg:g} kimg"]
        if self.img_per_s is not None and not self.done:
            parts.append(f"{self.img_per_s:.1f} img/s")
        if self.eta_s is not None and not self.done:
            parts.append(f"ETA {format_seconds(self.eta_s)}")
        if self.held_out_swd:
            best = min(value for _, value in self.held_out_swd)
            parts.append(f"held-out SWD {self.held_out_swd[-1][1]:.1f} (best {best:.1f})")
        if self.reason:
            parts.append(self.reason)
        return " · ".join(parts)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def format_seconds(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class JobSpec:
    """A training job as the panel's form describes it; ``extra`` are further CLI flags."""

    out: str
    family: str | None = None
    recipe: str | None = None
    config: str | None = None
    data: str | None = None
    steps: int | None = None
    max_minutes: float | None = None
    device: str = "auto"
    resume: bool = False
    extra: tuple[str, ...] = ()

    def resumed(self) -> JobSpec:
        from dataclasses import replace

        return replace(self, resume=True)

    @property
    def title(self) -> str:
        return f"{self.recipe or self.family} → {self.out}"


def train_arguments(spec: JobSpec) -> list[str]:
    """The ``everscape train`` arguments (after ``train``) for ``spec``; the CLI validates them."""
    args: list[str] = [spec.family] if spec.family else []
    for flag, value in (
        ("--recipe", spec.recipe),
        ("--config", spec.config),
        ("--data", spec.data),
        ("--out", spec.out),
        ("--steps", spec.steps),
        ("--max-minutes", spec.max_minutes),
        ("--device", spec.device),
    ):
        if value not in (None, ""):
            args += [flag, str(value)]
    if spec.resume:
        args.append("--resume")
    return args + list(spec.extra)
