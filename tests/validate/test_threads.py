"""The command lines' thread policy: --num-threads, then MIESTIM_NUM_THREADS, then one thread; restored afterwards."""

from __future__ import annotations

import os

import pytest
import torch

from miestim import cli


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(cli.THREADS_ENV, raising=False)
    return monkeypatch


def test_option_then_environment_then_default(no_env):
    assert cli.resolve_num_threads() == cli.DEFAULT_THREADS == 1
    no_env.setenv(cli.THREADS_ENV, " 3 ")
    assert cli.resolve_num_threads() == 3 and cli.resolve_num_threads(2) == 2


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_a_bad_environment_value_is_refused(no_env, text):
    no_env.setenv(cli.THREADS_ENV, text)
    with pytest.raises(ValueError, match="MIESTIM_NUM_THREADS must be a positive integer"):
        cli.resolve_num_threads()


@pytest.mark.parametrize("value", [0, -2, True, 1.0])
def test_a_bad_option_is_refused(value):
    with pytest.raises(ValueError, match="num_threads must be a positive integer"):
        cli.resolve_num_threads(value)


def test_program_threads_sets_and_restores(no_env):
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with cli.program_threads(other) as threads:
        assert threads == other and torch.get_num_threads() == other
    assert torch.get_num_threads() == before


def test_validate_runs_on_the_policy_and_leaves_the_caller_alone(no_env, tmp_path, capsys):
    (tmp_path / "const_estimator.py").write_text("def const(x, y):\n    return 0.5\n")
    no_env.chdir(tmp_path)
    before = torch.get_num_threads()
    assert cli.main(["validate", "--callable", "const_estimator:const", "--n", "50"]) == 0
    assert "· 1 threads ·" in capsys.readouterr().out and torch.get_num_threads() == before
    no_env.setenv(cli.THREADS_ENV, "2")
    assert cli.main(["validate", "--callable", "const_estimator:const", "--n", "50"]) == 0
    assert "· 2 threads ·" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        cli.main(["validate", "--callable", "const_estimator:const", "--n", "50", "--num-threads", "0"])
    assert exc.value.code == 2 and "num_threads must be a positive integer" in capsys.readouterr().err


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores: torch caps a fresh process's threads at the core count")
def test_a_timed_job_runs_on_the_callers_thread_count(monkeypatch):
    # With a timeout each job runs in a fresh process; it must take this process's count (2), not the OMP_NUM_THREADS
    # it inherits (1).
    from miestim.gaussian import CorrelatedGaussianTask
    from miestim.validation import validate

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        report = validate(
            lambda x, y: float(__import__("torch").get_num_threads()), [CorrelatedGaussianTask(1, 0.5)], n=50, timeout=120, progress=False
        )
    finally:
        torch.set_num_threads(before)
    (row,) = report.rows
    assert row.status == "ok" and row.estimate == 2.0, row
