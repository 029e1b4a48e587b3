"""The CMI benchmark runs end to end in its quick form; its target check and baseline comparison can fail."""

import json

from benchmarks import cmi_accuracy
from benchmarks._report import compare_errors
from benchmarks.cmi_accuracy import Row, check_targets, row_key, seed_summary


def test_quick_run_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cmi_accuracy.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    stored = json.loads(out.read_text())
    assert [r["target"] for r in stored["rows"]] == [run[0] for run in cmi_accuracy.RUNS.values()]
    # None in RUNS is estimate_cmi's default: resample="auto" resolves to "x" or "y", k=1.
    for row, (_, resample, k, readout) in zip(stored["rows"], cmi_accuracy.RUNS.values()):
        assert row["resample"] == resample if resample is not None else row["resample"] in ("x", "y")
        assert row["k"] == (k or 1) and row["readout"] == readout
        cell = row["target"].replace("|", r"\|")  # the table escapes the "|" of x;y|z
        assert f"| I({cell}) | {row['resample']} | {row['k']} | {readout} | 1 | 3000 |" in printed


def test_targets_and_baseline_flag_bad_runs(tmp_path):
    good = [Row("x;y|z", "x", 2, "dv", 5, 80000, 7.592, 7.4, 0.02, -0.192, 60.0), Row("x;z|y", "y", 2, "dv", 5, 80000, 0.0, 0.01, 0.01, 0.01, 30.0)]
    bad = [Row("x;y|z", "x", 2, "dv", 5, 80000, 7.592, 6.9, 0.02, -0.692, 60.0), Row("x;z|y", "y", 2, "dv", 5, 80000, 0.0, 0.2, 0.01, 0.2, 30.0)]
    assert all(line.startswith("PASS") for line in check_targets(good))
    assert all(line.startswith("MISS") for line in check_targets(bad))
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"rows": [r.__dict__ for r in good]}))
    assert compare_errors([r.__dict__ for r in good], str(path), 0.15, key=row_key) == []
    assert len(compare_errors([r.__dict__ for r in bad], str(path), 0.15, key=row_key)) == 2


def test_runs_and_seeds_select_and_repeat(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cmi_accuracy.main(["--quick", "--runs", "null", "--seeds", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["target"], r["seed"]) for r in rows] == [("x;z|y", 0), ("x;z|y", 1)]


def test_seed_summary_counts_the_seeds_that_meet_the_target():
    rows = [Row("x;y|z", "x", 1, "dv", 5, 80000, 7.592, 7.592 + e, 0.4, e, 10.0, seed=s) for s, e in enumerate([-0.5, 0.1, 0.3])]
    (line,) = seed_summary(rows)
    # mean error -0.033, sample sd 0.416; |error| <= 0.380 for the last two seeds only
    assert line == "I(x;y|z) resample=x k=1 readout=dv over 3 seeds: mean error -0.033 (sd 0.416, mean stderr 0.400); target met in 2/3"
