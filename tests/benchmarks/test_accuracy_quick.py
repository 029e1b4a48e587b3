"""The accuracy benchmark runs end to end in its quick form; its target check and baseline comparison can fail."""

import json

from benchmarks import accuracy
from benchmarks._report import compare_errors
from benchmarks.accuracy import Row, check_targets, row_key


def test_quick_run_prints_the_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert accuracy.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| estimator | d | true MI | estimate ± stderr | error | seconds |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert {r["estimator"] for r in rows} == {"smile", "infonce"} and len(rows) == 2 * len(accuracy.TASKS)


def test_targets_and_baseline_flag_bad_runs(tmp_path):
    good = [Row("smile", 5, 2.0, 2.01, 0.03, 0.01, 3.0), Row("smile", 20, 10.0, 9.8, 0.1, -0.2, 5.0)]
    bad = [Row("smile", 5, 2.0, 2.2, 0.03, 0.2, 3.0), Row("smile", 20, 10.0, 9.0, 0.1, -1.0, 5.0)]
    assert [line[:4] for line in check_targets(good)] == ["PASS", "PASS"]
    assert [line[:4] for line in check_targets(bad)] == ["MISS", "MISS"]
    assert check_targets([Row("smile", 5, 2.0, 2.0, 0.03, 0.0, 99.0)])[0].startswith("MISS")  # too slow
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"rows": [r.__dict__ for r in good]}))
    assert compare_errors([r.__dict__ for r in good], str(path), 0.1, key=row_key) == []
    assert len(compare_errors([r.__dict__ for r in bad], str(path), 0.1, key=row_key)) == 2
