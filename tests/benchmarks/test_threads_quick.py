"""The threads benchmark: its worker times every workload, its table compares each count with one thread."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import threads


def _result(seconds: dict[tuple[str, str, int], float | None], demo: list[dict]) -> dict:
    rows = [{"workload": w, "condition": c, "threads": n, "seconds": s} for (w, c, n), s in seconds.items()]
    return {"rows": rows, "demo": demo, "load": {c: {"before": "0.1 0.1 0.1", "after": "1.0 0.5 0.2"} for c in threads.CONDITIONS}}


def test_table_ratios_stopped_runs_and_demo_verdicts():
    seconds = {(w, c, n): 10.0 * n * (5 if c == "loaded" and n == 2 else 1) for w in threads.WORKLOADS for c in threads.CONDITIONS for n in (1, 2)}
    seconds[("estimate_mi smile", "loaded", 2)] = None  # stopped at the timeout
    demo = [{"condition": "idle", "seconds": 150.0, "target": 180.0}, {"condition": "loaded", "seconds": 250.0, "target": 240.0}]
    text = threads.table(_result(seconds, demo), [1, 2], timeout=300, cores=2)
    assert "| example epoch | 1 | 10.0 | 10.0 | 1.00 | 1.00 |" in text and "| example epoch | 2 (all) |" in text
    assert "| 20.0 | 100.0 | 2.00 | 10.00 |" in text
    assert "| > 300 (stopped) | 2.00 | — |" in text
    assert "| idle | 150.0 | ≤ 180 | PASS |" in text and "| loaded | 250.0 | ≤ 240 | MISS |" in text
    assert "idle: 0.1 0.1 0.1 before, 1.0 0.5 0.2 after" in text
    lines = threads.fastest(_result(seconds, demo))
    assert "fastest, example epoch, loaded: 1 thread (10.0 s); one thread takes 1.00 × that" in lines
    assert "fastest, estimate_mi smile, loaded: 1 thread (10.0 s); one thread takes 1.00 × that" in lines  # the stopped run is not the fastest
    seconds[("example epoch", "idle", 2)] = 5.0
    assert "fastest, example epoch, idle: 2 threads (5.0 s); one thread takes 2.00 × that" in threads.fastest(_result(seconds, demo))


def test_worker_times_each_workload_it_is_given(tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        assert threads.main(["--worker", "1", "--quick", "--cache", str(tmp_path)]) == 0
    finally:
        torch.set_num_threads(before)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["workload"] for r in rows] == list(threads.WORKLOADS)
    assert all(r["seconds"] > 0 for r in rows)


def test_demo_timer_stops_at_its_timeout_and_reports_a_failure():
    assert threads._time_demo("sh -c 'sleep 5'", timeout=0.5) is None
    assert threads._time_demo("sh -c 'exit 0'", timeout=30) < 30
    with pytest.raises(RuntimeError, match="broken demo"):
        threads._time_demo("sh -c 'echo broken demo >&2; exit 2'", timeout=30)


def test_thread_counts_must_include_one():
    with pytest.raises(SystemExit):
        threads.main(["--threads", "2", "--no-demo"])
