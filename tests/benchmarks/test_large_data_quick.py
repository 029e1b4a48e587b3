"""The large-data benchmark runs end to end in a quick form: subprocesses, memory maps, table and JSON."""

from __future__ import annotations

import json

from benchmarks import large_data


def test_quick_run_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    # --quick sizes (1e3, 1e4) at the default d = 16; few steps and one thread keep it short on a busy machine.
    assert large_data.main(["--quick", "--max-steps", "10", "--threads", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| N | d | seconds | peak RSS (MiB) |" in printed and "| 1,000 | 16 |" in printed and "| 10,000 | 16 |" in printed
    stored = json.loads(out.read_text())
    rows = stored["rows"]
    assert [r["n"] for r in rows] == [1_000, 10_000] and stored["meta"]["threads"] == 1
    for r in rows:
        assert r["seconds"] > 0 and r["value"] == r["value"]  # finite estimate, no NaN
        # The worker's peak is its own (started through the small launcher), above its import RSS.
        assert 0 < r["import_rss_mib"] <= r["peak_rss_mib"] < 2048


def test_a_failing_run_is_reported_not_raised(capsys):
    row = large_data.run_one(1_000, dim=2, mi=1.0, max_steps=0, seed=0, device="cpu")
    assert "max_steps must be an integer >= 1" in row["error"]
    print(large_data.table([row]))
    assert "failed: " in capsys.readouterr().out


def test_the_million_row_bar_is_judged_from_the_rows():
    rows = [{"n": 10_000, "seconds": 99.0, "threads": 2}, {"n": 1_000_000, "seconds": 41.0, "threads": 2}]
    assert large_data.targets(rows) == ["PASS N = 1,000,000: 41.0 s (bar 60 s, 2 threads)"]
    assert large_data.targets([{"n": 1_000_000, "seconds": 61.0, "threads": 2}])[0].startswith("MISS")
    assert large_data.targets([{"n": 1_000_000, "error": "boom"}]) == []
