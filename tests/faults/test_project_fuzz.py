"""Property: any mutation of a valid project file is loaded or refused with EverscapeError, never
another exception, and refusing stays within a small memory bound.

Three mutation levels, because a byte flip in the raw file is nearly always caught by the zip's
CRC before the member parsers see it: raw bytes of the file; bytes of one member re-zipped (so the
JSON, safetensors and image parsers and the validators get the damage); and any JSON value put at
any key of ``world.json`` / ``project.json`` (wrong types and shapes anywhere).
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import EverscapeError
from engine.project import load_project
from tests.faults.hostile_projects import valid_members, write_zip

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PEAK_BYTES = 64 * 2**20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, bytes], bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    members = valid_members(folder)
    data = write_zip(folder / "valid.everscape", members).read_bytes()
    return folder, members, data


def loaded_or_refused(path: Path) -> None:
    tracemalloc.start()
    try:
        load_project(path)
    except EverscapeError as error:
        assert "\n" not in str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"loading a mutated project allocated {peak / 2**20:.0f} MiB"


def mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None, insert: bytes) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    if insert:
        at = edits[0][0] % len(out) if edits else 0
        out[at:at] = insert
    return bytes(out[:cut] if cut else out)


EDITS = st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), max_size=8)
CUT = st.none() | st.integers(1, 4000)
INSERT = st.binary(max_size=16)


@FUZZ
@given(edits=EDITS, cut=CUT, insert=INSERT)
def test_any_byte_mutation_of_the_file(corpus, edits, cut, insert):
    folder, _, data = corpus
    path = folder / "raw.everscape"
    path.write_bytes(mutate(data, edits, cut, insert))
    loaded_or_refused(path)


@FUZZ
@given(
    member=st.sampled_from(["project.json", "world.json", "tensors.safetensors", "images/photo.png"]),
    edits=EDITS,
    cut=CUT,
    insert=INSERT,
)
def test_any_byte_mutation_of_one_member(corpus, member, edits, cut, insert):
    folder, members, _ = corpus
    changed = {**members, member: mutate(members[member], edits, cut, insert) or b"{"}
    loaded_or_refused(write_zip(folder / "member.everscape", changed))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def _paths(doc, prefix=()):
    """Every key path of a JSON document (dict keys and list indices)."""
    yield prefix
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield from _paths(value, (*prefix, key))


@FUZZ
@given(member=st.sampled_from(["project.json", "world.json"]), choice=st.integers(0, 10**6), value=JSON_VALUES)
def test_any_value_at_any_key(corpus, member, choice, value):
    folder, members, _ = corpus
    doc = json.loads(members[member])
    paths = [p for p in _paths(doc) if p]
    path = paths[choice % len(paths)]
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    text = json.dumps(doc, allow_nan=True).encode()  # NaN / Infinity included on purpose
    loaded_or_refused(write_zip(folder / "value.everscape", {**members, member: text}))


def test_the_fuzzed_file_is_a_real_project(corpus):
    folder, _, data = corpus
    (folder / "check.everscape").write_bytes(data)
    assert load_project(folder / "check.everscape").world.seed == 7
    with zipfile.ZipFile(folder / "check.everscape") as archive:
        assert "world.json" in archive.namelist()
