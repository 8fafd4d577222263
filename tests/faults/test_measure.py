"""The measuring helper itself: a real refusal is recognised, and its memory is read."""

from tests.faults.measure import assert_refused, run_cli


def test_a_bad_rect_is_a_one_line_refusal_with_its_memory_measured(tmp_path):
    run = run_cli("render", "--model", "infinitygan-bluemarble", "--rect", "0,0,-5,7", "--out", str(tmp_path / "x.png"))
    assert_refused(run, "rect")
    assert run.max_rss_bytes is None or run.max_rss_bytes > 10 * 2**20
    assert not (tmp_path / "x.png").exists()
