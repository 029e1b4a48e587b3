"""``python -m benchmarks auto --quick`` runs and prints its table, so the benchmark cannot rot."""

from __future__ import annotations

import json

from benchmarks import auto


def test_quick_run_prints_every_core_task_and_writes_json(tmp_path, capsys):
    out = tmp_path / "auto.json"
    assert auto.main(["--quick", "--tasks", "core", "--families", "gaussian", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| correlated-gaussian")]
    assert len(rows) == len(auto.TASKS["core"])
    assert all(("PASS" in line) != ("MISS" in line) for line in rows)
    record = json.loads(out.read_text())
    assert [r["task"] for r in record["rows"]] == [t.name for t, *_ in auto.TASKS["core"]]
    assert all(r["families"] == {"gaussian": 3} for r in record["rows"])
