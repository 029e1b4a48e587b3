"""``python -m benchmarks auto --quick`` runs and prints its table, so the benchmark cannot rot; its numbers are the library's."""

from __future__ import annotations

import json

import pytest

import miestim
from benchmarks import auto


def test_quick_run_prints_every_core_task_and_writes_json(tmp_path, capsys):
    out = tmp_path / "auto.json"
    assert auto.main(["--quick", "--tasks", "core", "--families", "gaussian", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    lines = [line for line in text.splitlines() if line.startswith("| correlated-gaussian")]
    assert len(lines) == len(auto.TASKS["core"])
    record = json.loads(out.read_text())
    assert [r["task"] for r in record["rows"]] == [t.name for t, *_ in auto.TASKS["core"]]
    assert all(r["families"] == {"gaussian": 3} for r in record["rows"])
    for (task, _, kind, bar), row, line in zip(auto.TASKS["core"], record["rows"], lines):
        # Each recorded error is the library's estimate minus the truth on the task's own sample (n = 1,000, seed 0) ...
        result = miestim.estimate_mi(*task.sample(1000, 0), families=("gaussian",), max_steps=100, progress=False)
        assert row["errors"] == pytest.approx([result.value - task.mutual_information], abs=1e-9), row
        # ... and the verdict is that error against the row's bar, in the record and in the table alike.
        assert kind == "abs" and row["pass"] == (abs(row["errors"][0]) <= bar)
        assert line.endswith(f"| {'PASS' if row['pass'] else 'MISS'} |"), line
        if task.name == "correlated-gaussian-5d-mi2":
            # The Gaussian family is the exact model, and 1,000 rows are enough for this task (the others read 0.43
            # to 0.60 nats low at n=1,000, 5 to 11 stderr, and 0.06 to 0.13 low at the full N=10,000: a finite-sample
            # bias of the fit, not noise): this row is right within 4 of its standard errors, so it must pass.
            assert abs(result.value - task.mutual_information) <= 4 * result.stderr and row["pass"], (result, row)


def test_the_noise_floor_lists_the_tasks_where_stderr_alone_costs_a_few_percent():
    def row(task, truth, stderr, target="mean relative error <= 5%"):
        return {"task": task, "truth": truth, "stderrs": [stderr] * 5, "target": target}

    # sqrt(2/pi) x 0.0078 / 0.111 = 5.6%; x 0.005 / 1.0 = 0.4%
    lines = auto._noise_floors([row("small-mi", 0.111, 0.0078), row("large-mi", 1.0, 0.005), row("abs", 0.1, 0.05, "mean abs error <= 0.05")])
    assert len(lines) == 1 and "small-mi 5.6%" in lines[0] and "large-mi" not in lines[0] and "abs" not in lines[0].split(":")[-1]
    assert auto._noise_floors([row("large-mi", 1.0, 0.005)]) == []
