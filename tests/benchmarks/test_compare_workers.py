"""frites' and latentmi's workers and issue 30's part of the comparison: the plan, the workers' plumbing
(run against stand-in packages, so no external environment is needed) and the report."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.compare import envs, report, run, runners
from benchmarks.compare.runners import Job
from benchmarks.compare.tasks import GAP_KEYS, GAPS, Task, gap_tasks

#: Stand-ins for the two packages, with the calls the workers make: fixed answers in bits, so the nats are known.
FAKE_FRITES = {
    "frites/__init__.py": '__version__ = "fake"\n',
    "frites/core.py": """
import numpy as np

def gcmi_nd_cc(x, y, mvaxis=None, traxis=-1):
    assert (mvaxis, traxis) == (0, -1) and x.shape[1] == y.shape[1] > x.shape[0]  # (dimensions, trials)
    return np.float64(2.0)

def gccmi_nd_ccc(x, y, z, mvaxis=None, traxis=-1):
    return np.float64(0.5)
""",
}
FAKE_LATENTMI = {
    "latentmi/__init__.py": '__version__ = "fake"\n',
    "latentmi/lmi.py": """
import numpy as np

def estimate(x, y, epochs=300, quiet=True, device=None):
    assert device == "cpu" and quiet
    for epoch in range(epochs):  # latentmi prints this after each epoch
        print("\\repoch %d (of max %d) " % (epoch, epochs), end="")
    pmis = np.full(len(x), np.nan)
    pmis[: len(x) // 2] = 1.0 + np.random.random()  # drawn from the global generator, which the worker seeds
    return pmis, (None, None), None
""",
}


def _fake(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "site"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _worker_module(name: str):
    spec = importlib.util.spec_from_file_location(name, envs.WORKERS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _job(tmp_path: Path, seed: int, n: int = 1_000) -> Job:
    task = gap_tasks(["additive-uniform-eps0.2"])[0]
    return Job(task, n, seed, run.write_samples(task, n, seed, tmp_path))


@pytest.fixture
def fake_envs(tmp_path, monkeypatch):
    """The workers run with this interpreter and the stand-in packages on its path."""
    site = _fake(tmp_path, {**FAKE_FRITES, **FAKE_LATENTMI})
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setattr(envs, "python_of", lambda library: Path(sys.executable))
    return site


def test_frites_worker_reports_nats(tmp_path, fake_envs):
    entries = [(_job(tmp_path, 0), ["gcmi"]), (_job(tmp_path, 1), ["gcmi", "nope"])]
    rows = runners.run_external("frites", entries, runners.Progress(runners.Plan(), quiet=True), max_steps=None, threads=1)
    assert [(r.labels["estimator"], r.status) for r in rows] == [("gcmi", "ok"), ("gcmi", "ok"), ("nope", "error")]
    assert rows[0].estimate == pytest.approx(2.0 * math.log(2)) and "bits -> nats" in rows[0].labels["evaluated_on"]
    assert "frites worker runs ('gcmi',)" in rows[2].message


def test_latentmi_worker_seeds_caps_and_converts(tmp_path, fake_envs):
    entries = [(_job(tmp_path, 0), ["lmi"]), (_job(tmp_path, 1), ["lmi"]), (_job(tmp_path, 0), ["lmi"])]
    rows = runners.run_external("latentmi", entries, runners.Progress(runners.Plan(), quiet=True), max_steps=None, threads=1)
    assert all(r.status == "ok" for r in rows)
    np.random.seed(0)
    assert rows[0].estimate == pytest.approx((1.0 + np.random.random()) * math.log(2))  # nanmean of the bits, in nats
    assert rows[0].estimate == rows[2].estimate != rows[1].estimate  # the seed fixes latentmi's global draws
    worker = _worker_module("latentmi_worker")
    assert rows[0].labels["steps"] == worker.EPOCHS * 1  # 500 training rows: one batch of 512 per epoch
    assert f"epochs capped at {worker.EPOCHS} (default 300)" in rows[0].labels["evaluated_on"]
    capped = runners.run_external("latentmi", entries[:1], runners.Progress(runners.Plan(), quiet=True), max_steps=3, threads=1)
    assert capped[0].labels["steps"] == 3 and "capped at 3" in capped[0].labels["evaluated_on"]


def test_latentmi_epoch_helpers():
    worker = _worker_module("latentmi_worker")
    assert worker.EPOCHS == runners.LATENTMI_EPOCHS  # the ETA's model uses the worker's cap
    assert worker.batches_per_epoch(5_000) == 5 and worker.epochs_for(5_000, None) == worker.EPOCHS and worker.epochs_for(5_000, 12) == 2
    assert worker.epochs_run("\repoch 0 (of max 15) \repoch 1 (of max 15) ", 15) == 3  # early stop at epoch 2 prints nothing
    assert worker.epochs_run("".join(f"\repoch {k} (of max 4) " for k in range(4)), 4) == 4 and worker.epochs_run("", 4) is None


def test_gap_plan_and_setup_check(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(envs.ENV_VAR, str(tmp_path / "no-venvs"))
    assert run.main(["--tasks", "gaps", "--only", "compare", "--dry-run", "--gap-seeds", "0", "--match", "additive-uniform"]) == 0
    err = capsys.readouterr().err
    assert "plan: 18 estimates (miestim 3, plug-in 3, frites 3, bmi 6, latentmi 3)" in err
    assert "latentmi additive-uniform-eps0.75|n=5000|seed=0: lmi" in err and "bmi additive-uniform-eps0.1|n=5000|seed=0: ksg, cca" in err
    assert envs.main(["--check", "--libraries", "frites", "latentmi"]) == 1
    out = capsys.readouterr().out
    assert "frites: FAILED - no environment" in out and "latentmi: FAILED - no environment" in out
    assert len(GAP_KEYS) == 23 and [t.n for t in gap_tasks(["gaussian-20x20-3pairs-rho0.8"])] == [1_000]
    with pytest.raises(ValueError, match="unknown issue-30 task"):
        gap_tasks(["nope"])


def _gap_row(task, library, estimator, error, *, truth=1.0, transform=GAPS, seed=0, n=5_000):
    job = Job(Task(task, "mi", 1, truth, transform, sampler=None, copula="other"), n, seed, Path("unused.npz"))
    return job.row(library, estimator, estimate=truth + error, seconds=1.0)


def test_gap_report():
    task = "additive-uniform-eps0.2"
    rows = [
        _gap_row(task, "miestim", "auto", -0.02),
        _gap_row(task, "miestim", "auto", 0.04, seed=1),  # mean relative error 3%
        _gap_row(task, "bmi", "cca", -0.3),
        _gap_row(task, "bmi", "ksg", 0.05),
        _gap_row(task, "frites", "gcmi", -0.2),
        _gap_row(task, "latentmi", "lmi", -0.5),
        _gap_row("student-t-2x2-df1", "miestim", "auto", 0.1),
        _gap_row("student-t-2x2-df1", "bmi", "ksg", 0.01),
        _gap_row("gaussian-50x50-all-rho0.5", "bmi", "cca", 0.01),
        # the beyond-Gaussian task of the same name is judged by issue 17's bars, not issue 30's
        _gap_row(task, "miestim", "auto", -0.01, transform="beyond-gaussian", n=10_000),
    ]
    summaries = report.summarize(rows)
    lines = report.check_gaps(summaries)  # in issue 30's order
    assert lines[0].startswith("MISS student-t-2x2-df1 n=5,000: the default's mean relative error 10.0% (1 seed) is not lower than bmi ksg (1.0%)")
    assert lines[0].endswith("; no result from bmi cca, frites gcmi, latentmi lmi")
    assert lines[1] == "n/a  gaussian-50x50-all-rho0.5 n=5,000: no miestim auto result"
    assert lines[2] == f"PASS {task} n=5,000: the default's mean relative error 3.0% (2 seeds) is lower than all 4"
    assert lines[3] == "MISS the default is the most accurate on 1 of 2 issue-30 tasks"
    record = report.gap_record(summaries)
    assert record[2]["default_lower_than"] == {"bmi cca": True, "bmi ksg": True, "frites gcmi": True, "latentmi lmi": True}
    assert record[2]["methods"]["miestim auto (default)"]["relative_error"] == pytest.approx(0.03) and record[0]["default_lower_than"] == {
        "bmi ksg": False
    }
    table = report.gap_table(summaries)
    assert table[0].startswith("| task | n | truth (nats) | miestim auto (default) | bmi cca | frites gcmi | bmi ksg | latentmi lmi |")
    assert table[2].endswith("| 10.0% |  |  | 1.0% |  | <= 5%: missed | not: bmi ksg |")
    assert table[3].endswith("|  | 1.0% |  |  |  |  | no default result |")
    assert table[4].endswith("| 3.0% | 30.0% | 20.0% | 5.0% | 50.0% | <= 5%: met | all 4 |")
    page = report.markdown(summaries, {})
    assert "## Issue 30's tasks" in page and page.count(f"### {task}") == 1  # the beyond task keeps its own section
    assert [line[:4] for line in report.check_beyond(summaries)][:1] == ["PASS"] and json.dumps(record)
