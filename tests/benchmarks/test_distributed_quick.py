"""The distributed throughput benchmark runs end to end in its quick form (2 launches of torchrun)."""

from __future__ import annotations

import json

import pytest

from benchmarks import distributed


def test_quick_run_prints_and_writes_samples_per_second(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert distributed.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| estimator (InfoNCE, global batch 64) | 2 | 1 |" in printed and "| sentiment example (1 epoch) | 1 | 1 |" in printed
    stored = json.loads(out.read_text())
    assert stored["meta"]["backend"] == "gloo" and stored["meta"]["quick"] is True
    rows = stored["rows"]
    assert "| k-NN table (N=2,000 x 128, k=2) | 2 | 1 |" in printed
    assert [(r["processes"], r["threads_per_process"]) for r in rows] == [(1, 1), (2, 1)] * 3
    assert all(r["samples_per_s"] > 0 for r in rows) and {r["speedup"] for r in rows if r["processes"] == 1} == {1.0}


def test_processes_must_be_at_least_two():
    with pytest.raises(SystemExit):
        distributed.main(["--processes", "1"])
