"""What a file is and whether Everscape can use it: the per-file report users paste into bug reports.

:func:`describe_file` tells the kind by structure (:mod:`engine.filekind`), then hands the file
to the very loader the program uses for that kind (checkpoint, model card, project, image,
training state), so "loads" here means "loads there", and "why not" is that loader's one-line
refusal. ``everscape models check FILE...`` prints these reports; a later ``everscape doctor``
can reuse the function as it is (no Qt, no side effects, no writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import filekind
from engine.errors import EverscapeError, first_line

CHECKPOINT = "checkpoint"
TRAINING_STATE = "training state"
CARD = "model card"
PROJECT = "project"
IMAGE = "image"


@dataclass(frozen=True)
class FileReport:
    """One file's verdict: ``kind`` (what it is), ``ok`` (whether it loads), ``detail`` (what it
    holds when it loads, the one-line reason when it does not)."""

    path: Path
    kind: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.path}: {self.kind}, {'loads' if self.ok else 'does not load'}: {self.detail}"


def describe_file(path: str | Path) -> FileReport:
    """Identify ``path`` and try its loader; never raises for a file's content."""
    path = Path(path)
    if not path.exists():
        return FileReport(path, "missing", False, "no such file")
    if path.is_dir():
        return FileReport(path, "folder", False, "a folder, not a file")
    kind = filekind.sniff(path)
    check = _CHECKS.get(kind)
    if check is None:
        return FileReport(path, _UNUSABLE.get(kind, kind), False, _WHY_NOT.get(kind, "not a format Everscape reads"))
    try:
        label, detail = check(path)
    except EverscapeError as error:
        return FileReport(path, _label_on_failure(path, kind), False, first_line(error))
    return FileReport(path, label, True, detail)


def _label_on_failure(path: Path, kind: str) -> str:
    if kind == filekind.SAFETENSORS:
        return _safetensors_label(path)
    return {filekind.JSON: CARD, filekind.PROJECT: PROJECT, filekind.IMAGE: IMAGE}.get(kind, kind)


def _safetensors_label(path: Path) -> str:
    metadata = (filekind.safetensors_header(path) or {}).get("__metadata__")
    if isinstance(metadata, dict) and "everscape_train" in metadata:
        return TRAINING_STATE
    return CHECKPOINT


def _safetensors(path: Path) -> tuple[str, str]:
    if _safetensors_label(path) == TRAINING_STATE:
        from engine.train.state import load_state

        state = load_state(path)
        return TRAINING_STATE, f"a {state['family']} run at step {state['step']}"
    from engine.models.registry import load_model

    loaded = load_model(str(path))
    model = loaded.model
    parameters = sum(p.numel() for p in model.parameters())
    steps = loaded.meta.get("steps")
    trained = f", {steps} training steps" if steps is not None else ""
    return CHECKPOINT, f"{model.family} model, {parameters:,} parameters{trained}"


def _json(path: Path) -> tuple[str, str]:
    from engine.cards import check_card

    card = check_card(path)
    return CARD, f"the card of {card['name']}"


def _project(path: Path) -> tuple[str, str]:
    from engine.project import load_project

    project = load_project(path)
    return PROJECT, f"world on {project.world.model}, seed {project.world.seed}, {len(project.images)} images"


def _image(path: Path) -> tuple[str, str]:
    from engine.imageio import probe_image, read_image

    info = probe_image(path)
    read_image(path)
    return IMAGE, f"{info.format} {info.width}x{info.height} {info.mode}"


_CHECKS = {filekind.SAFETENSORS: _safetensors, filekind.JSON: _json, filekind.PROJECT: _project, filekind.IMAGE: _image}
_UNUSABLE = {filekind.PICKLE: "pickle (torch.save)", filekind.TORCH_ZIP: "pickle (torch.save zip)"}
_WHY_NOT = {
    filekind.PICKLE: "pickles can run code and are not loaded; convert with `everscape models import`",
    filekind.TORCH_ZIP: "pickles can run code and are not loaded; convert with `everscape models import`",
    filekind.ZIP: "a zip that is neither a project nor a torch.save file",
    filekind.EMPTY: "the file is empty",
}
