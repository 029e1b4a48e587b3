"""The side-by-side comparison runs end to end in its quick form, skips missing libraries with a message,
and its target check, ahead/behind summary and worker protocol behave."""

from __future__ import annotations

import json
import subprocess
import sys

from benchmarks.compare import envs, report, run
from benchmarks.compare.runners import Row


def test_quick_run_without_external_environments(tmp_path, monkeypatch, capsys):
    # CI has no torch-mist / bmi environments: they must be skipped with a message, never crash.
    monkeypatch.setenv(envs.ENV_VAR, str(tmp_path / "no-venvs"))
    out = tmp_path / "out"
    assert run.main(["--quick", "--threads", "1", "--out", str(out), "--json", str(tmp_path / "all.json")]) == 0
    captured = capsys.readouterr()
    assert "skipping torch-mist: no environment" in captured.err and "skipping bmi: no environment" in captured.err
    for name in ("compare.md", "compare.json", "compare_grid.png", "staircase.md", "staircase.png", "staircase.json", "speed.md", "speed.json"):
        assert (out / name).is_file(), name
    page = (out / "compare.md").read_text()
    assert page.startswith("# Side by side") and "python -m benchmarks compare --quick" in page and "- torch-mist: no environment" in page
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert {(r["library"], r["estimator"]) for r in rows} == {("miestim", "smile"), ("miestim", "infonce"), ("miestim", "cmine"), ("sklearn", "ksg")}
    assert all(r["error"] is not None and r["seconds"] > 0 for r in rows)
    stair = json.loads((out / "staircase.json").read_text())
    assert [b["bound"] for b in stair["bounds"]] == [label for label, _, _ in run.staircase.BOUNDS]
    assert all(len(b["levels"]) == 5 for b in stair["bounds"])
    combined = json.loads((tmp_path / "all.json").read_text())
    assert set(combined) == {"meta", "compare", "staircase", "speed"}
    assert {r["critic"] for r in combined["speed"]["training"]} == {"separable", "bilinear", "concat"}


def test_setup_check_reports_missing_environments(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(envs.ENV_VAR, str(tmp_path))
    assert envs.main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "bmi: FAILED" in out and "torch-mist: FAILED" in out and "will skip them" in out


def test_worker_records_a_failing_library_without_crashing(tmp_path):
    # Run a worker with this interpreter, which lacks bmi: the import fails, the parent sees a non-zero exit.
    import numpy as np

    np.savez(tmp_path / "s.npz", x=np.zeros((10, 1), np.float32), y=np.zeros((10, 1), np.float32))
    request = {"threads": 1, "max_steps": 5, "jobs": [{"id": "t", "samples": str(tmp_path / "s.npz"), "kind": "mi", "seed": 0, "estimators": ["ksg"]}]}
    (tmp_path / "req.json").write_text(json.dumps(request))
    proc = subprocess.run([sys.executable, str(envs.WORKERS / "bmi_worker.py"), str(tmp_path / "req.json"), str(tmp_path / "res.json")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "bmi" in proc.stderr


def _row(task, library, estimator, error, seconds, seed=0):
    return Row(task, "mi", 5, "plain", 10_000, seed, 2.0, library, estimator, estimate=2.0 + error, error=error, seconds=seconds).__dict__


def test_targets_and_ahead_behind():
    rows = [_row("d5-mi2-plain", "miestim", "smile", -0.02, 5.0), _row("d5-mi2-plain", "torch-mist", "mine", 0.05, 15.0),
            _row("d5-mi2-plain", "bmi", "infonce", -0.08, 19.0)]
    lines = report.check_targets(report.summarize(rows))  # against all, against the neural ones, the missing task
    assert [line[:4] for line in lines] == ["PASS", "PASS", "n/a "] and lines[2].startswith("n/a  d20-mi4-plain")
    slow = [dict(r, seconds=9.0) if r["library"] == "miestim" else r for r in rows]
    assert report.check_targets(report.summarize(slow))[0].startswith("MISS")  # 9 s > half of 15 s
    worse = rows + [_row("d5-mi2-plain", "bmi", "cca", 0.001, 0.1)]
    every, neural = report.check_targets(report.summarize(worse))[:2]
    assert every.startswith("MISS") and "not lower than bmi cca" in every and neural.startswith("PASS")
    assert report.behind(report.summarize(worse)) == ([], 0, 1)  # not the most accurate, but within the 0.05 margin
    far = [dict(r, error=-0.2) if r["library"] == "miestim" else r for r in worse]
    behind, ahead, total = report.behind(report.summarize(far))
    assert (ahead, total) == (0, 1) and "| bmi cca |" in behind[0]
    assert report.behind(report.summarize(rows)) == ([], 1, 1)
