"""The sampler benchmark runs end to end in its quick form, and its JSON/baseline plumbing works."""

from __future__ import annotations

import json

from benchmarks import sampler_speed


def test_quick_run_writes_json_and_compares(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert sampler_speed.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| miestim KNNSampler (exact) |" in printed and "| sklearn NearestNeighbors refit per batch |" in printed
    stored = json.loads(out.read_text())
    assert stored["config"]["n"] == 2000 and stored["config"]["quick"] is True
    assert stored["speedup"] == stored["baseline_batch_s"] / stored["ours_batch_s"] > 0

    # A stored run 1000x faster than anything possible: every metric regresses -> exit status 1.
    fast = dict(stored, ours_batch_s=stored["ours_batch_s"] / 1000, build_s=stored["build_s"] / 1000, speedup=stored["speedup"] * 1000)
    (tmp_path / "fast.json").write_text(json.dumps(fast))
    assert sampler_speed.main(["--quick", "--batches", "20", "--baseline", str(tmp_path / "fast.json")]) == 1
    assert "regressions: ours_batch_s, build_s, speedup" in capsys.readouterr().out

    # A stored run with another configuration is not compared -> exit status 2.
    other = dict(stored, config=dict(stored["config"], n=999))
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert sampler_speed.main(["--quick", "--batches", "20", "--baseline", str(tmp_path / "other.json")]) == 2
    assert "another configuration" in capsys.readouterr().out


def test_compare_flags_only_real_slowdowns():
    stored = {"ours_batch_s": 1e-4, "build_s": 1.0, "speedup": 300.0}
    now = {"ours_batch_s": 1.2e-4, "build_s": 0.5, "speedup": 250.0}
    table, regressions = sampler_speed.compare(now, stored, tolerance=0.3)
    assert regressions == [] and "| ours_batch_s |" in table
    _, regressions = sampler_speed.compare(dict(now, ours_batch_s=2e-4), stored, tolerance=0.3)
    assert regressions == ["ours_batch_s"]
