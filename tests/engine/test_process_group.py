import pytest

from engine.errors import InvalidInput
from engine.process_group import timeout_seconds


def test_timeout_default_and_override(monkeypatch):
    monkeypatch.delenv("EVERSCAPE_DIST_TIMEOUT_S", raising=False)
    assert timeout_seconds(1800) == 1800
    monkeypatch.setenv("EVERSCAPE_DIST_TIMEOUT_S", "90")
    assert timeout_seconds(1800) == 90
    for bad in ("soon", "-5"):
        monkeypatch.setenv("EVERSCAPE_DIST_TIMEOUT_S", bad)
        with pytest.raises(InvalidInput):
            timeout_seconds(1800)
