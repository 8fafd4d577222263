"""The models page's quality report is generated from the shipped model cards and must agree with them."""

from pathlib import Path

import pytest

from engine import checkpoints
from engine.cards import (
    REPORT_BEGIN,
    REPORT_END,
    card_path,
    model_page,
    read_card,
    readme_section,
    replace_readme_section,
)
from engine.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _shipped_cards() -> list[dict]:
    names = sorted(p.stem for p in (ROOT / "checkpoints").glob("*.safetensors"))
    cards = [read_card(card_path(ROOT / "checkpoints" / f"{name}.safetensors")) for name in names]
    return [card for card in cards if card is not None]


MODELS_PAGE = ROOT / "docs" / "models" / "README.md"


@pytest.fixture
def shipped_cards_only(tmp_path, monkeypatch) -> list[dict]:
    """The shipped cards, with only the shipped checkpoints installed and a gallery folder in
    ``tmp_path`` (so links are computed relative to pages written there)."""
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", ROOT / "checkpoints")
    monkeypatch.setenv("EVERSCAPE_CHECKPOINTS", str(tmp_path / "none"))
    cards = _shipped_cards()
    if not cards:
        pytest.skip("no shipped model cards")
    (tmp_path / "resources" / "gallery").mkdir(parents=True)
    return cards


def test_models_page_report_matches_the_shipped_cards():
    cards = _shipped_cards()
    page = MODELS_PAGE.read_text(encoding="utf-8")
    expected = readme_section(cards, gallery_dir="../../resources/gallery")
    assert expected in page, "re-run `everscape models report --markdown docs/models/README.md` after shipping"
    for card in cards:  # every gallery the report links to is in the repository, where the page says
        assert (MODELS_PAGE.parent / "../../resources/gallery" / Path(card["gallery"]["path"]).name).is_file()


def test_each_shipped_model_has_its_generated_page():
    for card in _shipped_cards():
        page = MODELS_PAGE.parent / f"{card['name']}.md"
        expected = model_page(card, gallery_dir="../../resources/gallery")
        assert page.read_text(encoding="utf-8") == expected, "re-run `everscape models report --markdown docs/models/`"
        assert f"({card['name']}.md)" in MODELS_PAGE.read_text(encoding="utf-8")  # the overview links it


def test_a_folder_gets_one_page_per_model_and_its_overview_updated(tmp_path, shipped_cards_only):
    cards = shipped_cards_only
    folder = tmp_path / "docs" / "models"
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(f"# Models\n\n{REPORT_BEGIN}\nstale\n{REPORT_END}\n", encoding="utf-8")
    assert main(["models", "report", "--markdown", str(folder)]) == 0
    for card in cards:
        text = (folder / f"{card['name']}.md").read_text(encoding="utf-8")
        assert text == model_page(card, gallery_dir="../../resources/gallery")
    assert "stale" not in (folder / "README.md").read_text(encoding="utf-8")


def test_the_readme_stays_a_short_user_document():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 10 * 1024
    for link in ("docs/cli.md", "docs/training.md", "docs/models/README.md", "docs/architecture.md"):
        assert link in readme and (ROOT / link).is_file()


def test_report_rewrites_only_its_section(tmp_path, shipped_cards_only, capsys):
    cards = shipped_cards_only
    readme = tmp_path / "docs" / "models.md"
    readme.parent.mkdir()
    readme.write_text(f"# Title\n\nbefore\n\n{REPORT_BEGIN}\nstale table\n{REPORT_END}\n\nafter\n", encoding="utf-8")
    assert main(["models", "report", "--markdown", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "stale table" not in text and text.startswith("# Title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    section = readme_section(cards, gallery_dir="../resources/gallery")  # links relative to the page
    assert section in text
    assert replace_readme_section(text, section) == text  # idempotent

    readme.write_text("# no markers\n", encoding="utf-8")
    assert main(["models", "report", "--readme", str(readme)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no quality-report markers" in err and len(err.splitlines()) == 1
    assert readme.read_text(encoding="utf-8") == "# no markers\n"  # nothing lost
