"""Model cards (class 7): a malformed card is named and left out, never breaks the others, and a
card's claim never makes a model that cannot render the default."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import checkpoints, default_model
from engine.cards import check_card, quality_table, read_card
from engine.cli import main
from engine.errors import InvalidInput
from engine.models import registry
from tests.faults.hostile import card, checkpoint_with, flip_bytes, tiny_checkpoint, write_json
from tests.faults.measure import REFUSAL_RSS_BUDGET, peak_rss_bytes

SHAPE_CASES = [
    ("a list", [1, 2, 3]),
    ("metrics a list", {**card(), "metrics": []}),
    ("string score", card(swd="excellent")),
    ("bool score", card(swd=True)),
    ("no name", {k: v for k, v in card().items() if k != "name"}),
    ("name a number", card(name=7)),
    ("scaleinv keys not zooms", {**card(), "metrics": {**card()["metrics"], "trained": {"swd": 1, "inf_swd": 1,
                                                                                         "scaleinv": {"x": 1}}}}),
    ("goal a string", card(goals={"g": "pass"})),
    ("gallery size text", card(gallery={"path": "a.jpg", "size": "big"})),
    ("training steps text", card(training={"steps": "many"})),
    ("landcover rows text", card(landcover={"measures": {}, "gallery_rows": ["a"]})),
    ("wrong format", {**card(), "format": "other/1"}),
]  # fmt: skip


@pytest.mark.parametrize("case,value", SHAPE_CASES, ids=[c[0] for c in SHAPE_CASES])
def test_cards_of_the_wrong_shape_are_refused_naming_the_key(tmp_path, case, value):
    path = write_json(tmp_path / "m.json", value)
    with pytest.raises(InvalidInput) as error:
        check_card(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert read_card(path) is None


def test_other_damage_is_refused_too(tmp_path):
    for name, data in (("text", b"not json"), ("empty", b""), ("nested", b"[" * 100000), ("binary", b"\xff\xfe")):
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        with pytest.raises(InvalidInput):
            check_card(path)


def _installed(tmp_path, monkeypatch, cards: dict[str, dict | str], broken: tuple[str, ...] = ()):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name, value in cards.items():
        if name in broken:  # weights that render one flat colour
            checkpoint_with(folder / f"{name}.safetensors", lambda w: [t.zero_() for t in w.values()])
        else:
            tiny_checkpoint(folder / f"{name}.safetensors")
        path = folder / f"{name}.json"
        path.write_text(value if isinstance(value, str) else json.dumps(value))
    monkeypatch.setenv("EVERSCAPE_CHECKPOINTS", str(folder))
    monkeypatch.setattr(checkpoints, "SHIPPED_DIR", tmp_path / "no-shipped")
    return folder


def test_models_report_names_the_bad_card_and_reports_the_others(tmp_path, monkeypatch, capsys):
    _installed(tmp_path, monkeypatch, {"good": card("good"), "bad": {**card("bad"), "metrics": ["x"]}})
    assert main(["models", "report"]) == 0
    captured = capsys.readouterr()
    assert "| good |" in captured.out and "bad" not in captured.out
    assert "bad.json" in captured.err and "malformed" in captured.err
    assert main(["models"]) == 0  # the listing names the ignored card beside its checkpoint
    listing = capsys.readouterr().out
    assert "good: reference, 1 steps, held-out SWD 100.0" in listing and "card ignored" in listing


def test_a_card_claiming_the_best_score_for_a_broken_model_is_not_the_default(tmp_path, monkeypatch):
    _installed(tmp_path, monkeypatch, {"liar": card("liar", swd=1.0), "honest": card("honest", swd=90.0)},
               broken=("liar",))  # fmt: skip
    default_model._MEMORY.clear()
    assert default_model.default_model_ref() == "honest"
    liar = tmp_path / "checkpoints" / "liar.safetensors"
    assert default_model.renders(liar) is False
    assert json.loads(default_model.cache_file().read_text())  # the verdicts are cached by hash


def test_an_all_nan_model_never_becomes_the_default(tmp_path, monkeypatch):
    folder = _installed(tmp_path, monkeypatch, {"nan": card("nan", swd=1.0)})
    checkpoint_with(folder / "nan.safetensors", lambda w: [t.fill_(float("nan")) for t in w.values()])
    default_model._MEMORY.clear()
    assert default_model.default_model_ref() == registry.FALLBACK_MODEL


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_cards_load_or_are_refused_and_a_loaded_one_always_reports(tmp_path_factory, data):
    """Any byte mutation of a valid card is refused with InvalidInput or loads, and then renders a table."""
    raw = bytearray(json.dumps(card("fz", goals={"g": {"value": 1.0, "limit": 2.0, "pass": True}},
                                    training={"steps": 3, "init": {"steps": 1}})).encode())  # fmt: skip
    raw = flip_bytes(data.draw, raw, most=3)
    path = tmp_path_factory.mktemp("card") / "m.json"
    path.write_bytes(raw)
    before = peak_rss_bytes()
    try:
        loaded = check_card(path)
    except InvalidInput as error:
        assert "\n" not in str(error)
        loaded = None
    assert peak_rss_bytes() - before < REFUSAL_RSS_BUDGET
    if loaded is not None:
        assert quality_table([loaded]).startswith("|")


def test_the_shipped_cards_pass_the_schema():
    cards = sorted(checkpoints.SHIPPED_DIR.glob("*.json"))
    assert cards
    for path in cards:
        assert check_card(path)["name"] == path.stem


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _paths(tree, prefix=()):
    yield prefix
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cards_with_any_value_replaced_are_refused_or_report(tmp_path_factory, data):
    """Structural fuzzing: any node of a full card replaced by any JSON value (NaN included)."""
    full = json.loads((checkpoints.SHIPPED_DIR / "infinitygan-bluemarble.json").read_text())
    paths = list(_paths(full))[1:]
    where = data.draw(st.sampled_from(paths))
    node = full
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = data.draw(_JSON)
    path = tmp_path_factory.mktemp("card") / "m.json"
    path.write_text(json.dumps(full))
    try:
        loaded = check_card(path)
    except InvalidInput as error:
        assert "\n" not in str(error)
        return
    assert quality_table([loaded]).startswith("|")
