"""The Qt-free reader of ``everscape train`` output: line splitting, parsing, the job reducer."""

from __future__ import annotations

import json

from engine.train.progress import JobSpec, JobState, LineBuffer, format_seconds, parse_line, train_arguments


def test_line_buffer_keeps_partial_lines_until_complete():
    buffer = LineBuffer()
    assert buffer.feed(b'{"step": 1, "d_lo') == []
    assert buffer.feed(b'ss": 0.5}\r\n{"event"') == ['{"step": 1, "d_loss": 0.5}']
    assert buffer.feed("") == []
    assert buffer.feed(': "done", "step": 1, "stopped": "steps"}\n\n') == [
        '{"event": "done", "step": 1, "stopped": "steps"}',
        "",
    ]
    assert buffer.feed("tail without newline") == []
    assert buffer.flush() == ["tail without newline"]
    assert buffer.flush() == []


def test_parse_line_kinds_and_garbage():
    assert parse_line("   ") is None
    assert parse_line('{"step": 3, "g_loss": 1.0}').kind == "progress"
    assert parse_line('{"event": "sample", "path": "a.png"}').kind == "sample"
    assert parse_line('{"event": "snapshot", "path": "last.safetensors"}').kind == "snapshot"
    assert parse_line('{"event": "done", "step": 3, "stopped": "steps"}').kind == "done"
    assert parse_line('{"event": "future-thing"}').kind == "event"
    for garbage in ("Traceback (most recent call last):", "[1, 2]", '{"step": "x"}', "{broken", "\x00\xff"):
        event = parse_line(garbage)
        assert event.kind == "text" and event.line == garbage.strip()


def _feed(state: JobState, *objects) -> None:
    for obj in objects:
        state.apply(parse_line(obj if isinstance(obj, str) else json.dumps(obj)))


def test_reducer_collects_metrics_samples_and_finishes():
    state = JobState()
    assert state.status == "starting"
    _feed(
        state,
        {"step": 1, "kimg": 0.002, "d_loss": 1.4, "g_loss": 0.7, "img_per_s": 8.0, "eta_s": 4.0},
        "a warning printed by a library",
        {"step": 2, "kimg": 0.004, "d_loss": 1.3, "g_loss": 0.8, "r1": True, "img_per_s": 9.0, "eta_s": None},
        {"event": "sample", "path": "run/samples/step-0000002.png"},
        {"event": "snapshot", "path": "run/last.safetensors", "held_out_swd": 301.5, "best": True},
        {"event": "done", "step": 2, "stopped": "steps"},
    )
    assert state.status == "running" and state.step == 2 and state.img_per_s == 9.0 and state.eta_s is None
    assert state.metrics == {"d_loss": [(1, 1.4), (2, 1.3)], "g_loss": [(1, 0.7), (2, 0.8)]}
    assert state.held_out_swd == [(2, 301.5)] and "held-out SWD 301.5 (best 301.5)" in state.summary()
    assert state.last_sample.endswith("step-0000002.png") and state.last_snapshot.endswith("last.safetensors")
    assert state.log == ["a warning printed by a library"]
    state.finish(0)
    assert state.status == "finished" and state.done and state.reason is None


def test_reducer_stopped_and_failed():
    stopped = JobState()
    _feed(stopped, {"step": 5, "g_loss": 1.0}, {"event": "done", "step": 5, "stopped": "abort"})
    stopped.finish(130)
    assert stopped.status == "stopped"

    killed = JobState(stop_requested=True)
    killed.finish(None)
    assert killed.status == "stopped"

    failed = JobState()
    failed.finish(2, "everscape: notes\neverscape: give --data (or --recipe NAME)\n\n")
    assert failed.status == "failed" and failed.reason == "everscape: give --data (or --recipe NAME)"
    assert "give --data" in failed.summary()

    crashed = JobState()
    _feed(crashed, {"step": 1, "g_loss": 1.0})
    crashed.finish(None, "")
    assert crashed.status == "failed" and crashed.reason == "killed"


def test_train_arguments_and_format():
    spec = JobSpec(out="runs/a", family="reference", config="tiny", data="img.png", steps=3, extra=("--batch", "2"))
    assert train_arguments(spec) == [
        "reference",
        "--config",
        "tiny",
        "--data",
        "img.png",
        "--out",
        "runs/a",
        "--steps",
        "3",
        "--device",
        "auto",
        "--batch",
        "2",
    ]
    assert train_arguments(JobSpec(out="r", recipe="x", max_minutes=2.5).resumed()) == [
        "--recipe",
        "x",
        "--out",
        "r",
        "--max-minutes",
        "2.5",
        "--device",
        "auto",
        "--resume",
    ]
    assert format_seconds(75) == "1:15" and format_seconds(3725) == "1:02:05"
