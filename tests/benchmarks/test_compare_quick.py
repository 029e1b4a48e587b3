"""The side-by-side comparison runs end to end in its quick form, skips missing libraries with a message,
and its target check, ahead/behind summary and worker protocol behave."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.compare import envs, report, run, runners
from benchmarks.compare.runners import Job
from benchmarks.compare.tasks import Task


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
    rows = [runners.from_record(r) for r in json.loads((out / "compare.json").read_text())["rows"]]
    assert {(r.labels["library"], r.labels["estimator"]) for r in rows} == {
        ("miestim", "smile"),
        ("miestim", "auto"),
        ("miestim", "cmine"),
        ("sklearn", "ksg"),
        ("plug-in", "gaussian-copula"),
    }
    assert all(r.status == "ok" and r.seconds > 0 for r in rows)
    beyond = {(r.labels["library"], r.labels["estimator"]) for r in rows if r.task == "additive-uniform-eps0.2"}
    assert beyond == {("miestim", "smile"), ("miestim", "auto"), ("plug-in", "gaussian-copula"), ("sklearn", "ksg")}
    assert "## Beyond Gaussians" in page and "additive-uniform-eps0.2 n=1,000 accuracy" in page
    gaps = {(r.labels["library"], r.labels["estimator"]) for r in rows if r.task == "additive-uniform-eps0.1"}  # issue 30's, quick: one task
    assert gaps == {("miestim", "auto"), ("plug-in", "gaussian-copula")} and "skipping latentmi: no environment" in captured.err
    assert "## Issue 30's tasks" in page and "n/a  additive-uniform-eps0.1 n=1,000: the default's mean relative error" in page
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
    request = {
        "threads": 1,
        "max_steps": 5,
        "jobs": [{"id": "t", "samples": str(tmp_path / "s.npz"), "kind": "mi", "seed": 0, "estimators": ["ksg"]}],
    }
    (tmp_path / "req.json").write_text(json.dumps(request))
    proc = subprocess.run(
        [sys.executable, str(envs.WORKERS / "bmi_worker.py"), str(tmp_path / "req.json"), str(tmp_path / "res.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0 and "bmi" in proc.stderr


def _row(task, library, estimator, error, seconds, seed=0, *, truth=2.0, copula="gaussian"):
    job = Job(Task(task, "mi", 5, truth, "plain", sampler=None, copula=copula), 10_000, seed, Path("unused.npz"))
    return job.row(library, estimator, estimate=truth + error, seconds=seconds)


def test_targets_and_ahead_behind():
    rows = [
        _row("d5-mi2-plain", "miestim", "auto", -0.02, 5.0),
        _row("d5-mi2-plain", "torch-mist", "mine", 0.05, 15.0),
        _row("d5-mi2-plain", "bmi", "infonce", -0.08, 19.0),
    ]
    lines = report.check_targets(report.summarize(rows))  # against all, against the neural ones, the missing task
    assert [line[:4] for line in lines] == ["PASS", "PASS", "n/a "] and lines[2].startswith("n/a  d20-mi4-plain")
    slow = [replace(r, seconds=9.0) if r.labels["library"] == "miestim" else r for r in rows]
    assert report.check_targets(report.summarize(slow))[0].startswith("MISS")  # 9 s > half of 15 s
    worse = rows + [_row("d5-mi2-plain", "bmi", "cca", 0.001, 0.1)]
    every, neural = report.check_targets(report.summarize(worse))[:2]
    assert every.startswith("MISS") and "not lower than bmi cca" in every and neural.startswith("PASS")
    assert report.behind(report.summarize(worse)) == ([], 0, 1)  # not the most accurate, but within the 0.05 margin
    far = [replace(r, estimate=1.8, error=-0.2) if r.labels["library"] == "miestim" else r for r in worse]
    behind, ahead, total = report.behind(report.summarize(far))
    assert (ahead, total) == (0, 1) and behind[0][4] == "bmi cca"  # the most accurate estimator's column
    assert report.behind(report.summarize(rows)) == ([], 1, 1)


def test_beyond_gaussian_plan(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(envs.ENV_VAR, str(tmp_path / "no-venvs"))
    assert (
        run.main(
            [
                "--tasks",
                "beyond-gaussian",
                "--only",
                "compare",
                "--dry-run",
                "--libraries",
                "plug-in",
                "bmi",
                "--estimators",
                "gaussian-copula",
                "cca",
                "--beyond-seeds",
                "0",
                "1",
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "plan: 16 estimates (plug-in 8, bmi 8)" in err
    assert "gaussian-20x20-3pairs-rho0.8|n=5000|seed=1: cca" in err and "student-t-6x6-df4|n=10000|seed=0: gaussian-copula" in err
    assert "d5-mi2-plain" not in err


def _beyond_row(task, library, estimator, error, seconds, copula="other", truth=1.0, seed=0):
    return _row(task, library, estimator, error, seconds, seed, truth=truth, copula=copula)


def test_a_row_is_a_validation_row_and_its_record_round_trips():
    job = Job(Task("d5-mi2-plain", "mi", 5, 2.0, "plain", sampler=None), 1_000, 3, Path("unused.npz"))
    ok = job.row("bmi", "ksg", estimate=1.9, seconds=0.5, evaluated_on="all rows")
    assert (ok.status, ok.estimator, ok.quantity) == ("ok", "bmi ksg", "I(X;Y)") and abs(ok.error + 0.1) < 1e-12
    assert ok.labels == {
        "library": "bmi",
        "estimator": "ksg",
        "kind": "mi",
        "dim": 5,
        "transform": "plain",
        "copula": "gaussian",
        "evaluated_on": "all rows",
    }
    failed = job.row("torch-mist", "mine", error_message="RuntimeError: boom")
    assert (failed.status, failed.message) == ("error", "RuntimeError: boom")
    assert job.row("bmi", "dv", estimate=float("nan")).status == "non-finite"
    stored = json.loads(json.dumps(runners.to_record(failed), allow_nan=False))  # strict JSON: NaN is stored as null
    assert stored["error"] is None and runners.to_record(runners.from_record(stored)) == stored


def test_beyond_checks():
    rows = [
        _beyond_row("additive-uniform-eps0.2", "miestim", "auto", -0.05, 4.0),
        _beyond_row("additive-uniform-eps0.2", "bmi", "ksg", -0.06, 3.0),
        _beyond_row("additive-uniform-eps0.2", "torch-mist", "mine", -0.3, 7.0),
        # The bars judge the default, estimator="auto"; a named estimator's row plays no part.
        _beyond_row("additive-uniform-eps0.2", "miestim", "smile", -0.5, 1.0),
        _beyond_row("gaussian-20x20-3pairs-rho0.8", "miestim", "auto", -0.05, 4.0, copula="gaussian"),
        _beyond_row("gaussian-20x20-3pairs-rho0.8", "miestim", "smile", -0.05, 4.0, copula="gaussian"),
        _beyond_row("gaussian-20x20-3pairs-rho0.8", "plug-in", "gaussian-copula", 0.02, 0.1, copula="gaussian"),
    ]
    lines = report.check_beyond(report.summarize(rows))
    assert lines[0].startswith("PASS additive-uniform-eps0.2 n=10,000 accuracy")  # |-0.05| <= 0.08
    assert lines[1].startswith("PASS additive-uniform-eps0.2 n=10,000 vs the others: mean |error| 0.050 is lower than all 2")
    assert lines[2].startswith("MISS additive-uniform-eps0.2 n=10,000 time: 4.0 s")  # 4 s > half of MINE's 7 s
    assert lines[3].startswith("PASS gaussian-20x20") and lines[4].startswith("MISS gaussian-20x20-3pairs-rho0.8 n=10,000 vs the plug-in")
    assert lines[5].startswith("n/a  gaussian-20x20-3pairs-rho0.8 n=10,000 time")
    copula = report.check_copula_tasks(report.summarize(rows))
    assert copula[0].startswith("MISS gaussian-20x20")
    assert copula[-1].startswith("MISS the default is within 0.02 of the plug-in's mean |error| on 0 of 1")
    assert report.check_beyond(report.summarize(rows[1:4])) == ["n/a  additive-uniform-eps0.2 n=10,000: no miestim auto result"]
