"""The engine's import graph: models (shared and each family's) never reach the training stack, and
no import cycle anywhere.

The layers themselves are an import-linter contract (``pyproject.toml``, ``lint-imports``); cycles
inside one layer are not, so they are checked here on the same graph (grimp).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("engine", cache_dir=None)


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                child = edges[node][i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert _cycles(graph) == [["a", "b"]]


def test_the_engine_has_no_import_cycle(graph):
    assert _cycles(graph) == []


def _render_side(graph) -> set[str]:
    """The shared models and every family module but its trainer: what rendering may load."""
    families = {m for m in graph.modules if m.startswith("engine.families")}
    return {m for m in graph.modules if m.startswith("engine.models")} | {
        m for m in families if m.rpartition(".")[2] != "trainer"
    }


def test_models_never_reach_the_training_stack(graph):
    for module in sorted(_render_side(graph)):
        reached = graph.find_upstream_modules(module)  # everything it imports, directly or not
        training = {m for m in reached if m.startswith("engine.train") or m.endswith(".trainer")}
        assert not training, (module, sorted(training))


def test_the_family_contract_names_every_module_but_the_trainers(graph):
    """import-linter's forbidden contract lists modules one by one: a new family module must join it."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["name"].startswith("family models never import")]
    families = {m for m in _render_side(graph) if m.startswith("engine.families")}
    assert set(contract["source_modules"]) == families
