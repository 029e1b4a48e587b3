"""The seed-spread benchmark runs end to end in its quick form, and its summary reads the rows it is given."""

import json

from benchmarks import seeds
from benchmarks.seeds import Row, summary


def test_quick_run_prints_the_summary_and_writes_every_seed(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert seeds.main(["--quick", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| variant | estimator | d | true MI | seeds | mean error | sd over seeds |" in printed
    rows = json.loads(out.read_text())["rows"]
    assert {(r["variant"], r["seed"]) for r in rows} == {(v, s) for v in ("default", "quadratic") for s in (0, 1)}
    assert len(rows) == 2 * 2 * len(seeds.TASKS)


def test_summary_statistics():
    rows = [Row("default", "smile", 20, 4.0, s, 4.0 + e, 0.05, e, t) for s, (e, t) in enumerate([(-0.1, 2.0), (0.3, 4.0)])]
    line = summary(rows).splitlines()[2]
    # mean error +0.100, sample sd 0.283, mean |error| 0.200, max 0.300, mean seconds 3.0
    assert line == "| default | smile | 20 | 4.00 | 2 | +0.100 | 0.283 | 0.200 | 0.300 | 3.0 |"
