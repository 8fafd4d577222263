"""The memory budget: derived from the machine, overridable, and every refusal names the numbers."""

import pytest

from engine import budget
from engine.errors import CheckpointError, InvalidInput, OutputError


def test_the_budget_comes_from_the_machine_or_the_environment(monkeypatch):
    monkeypatch.delenv(budget.ENV_VAR, raising=False)
    import psutil

    assert budget.FLOOR <= budget.memory_budget() <= psutil.virtual_memory().total
    monkeypatch.setenv(budget.ENV_VAR, "1.5G")
    assert budget.memory_budget() == int(1.5 * 2**30)
    monkeypatch.setenv(budget.ENV_VAR, "lots")
    with pytest.raises(InvalidInput, match=budget.ENV_VAR):
        budget.memory_budget()


@pytest.mark.parametrize("text,value", [("123", 123), ("4k", 4096), ("2M", 2 * 2**20), ("1GiB", 2**30), ("1 t", 2**40)])
def test_sizes_parse(text, value):
    assert budget.parse_bytes(text) == value


def test_refusals_name_what_and_the_limit(tmp_path):
    budget.check_memory(10, "x", budget=10)
    with pytest.raises(CheckpointError, match=r"model w needs 2\.0 KiB of memory, over the budget of 1\.0 KiB"):
        budget.check_memory(2048, "model w", budget=1024, error=CheckpointError)
    free = budget.free_disk(tmp_path / "not" / "yet")
    assert free > 0
    with pytest.raises(OutputError, match="of disk"):
        budget.check_disk(tmp_path / "out.tif", free * 2 + 2**40, "exporting")
