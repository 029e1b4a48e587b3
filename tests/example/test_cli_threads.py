"""The example's thread policy: --num-threads, then MIESTIM_NUM_THREADS, then one thread; restored afterwards."""

from __future__ import annotations

import pytest
import torch

from examples.sentiment import cli


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(cli.THREADS_ENV, raising=False)
    return monkeypatch


def _inside(requested=None) -> int:
    with cli.process_threads(requested) as threads:
        assert torch.get_num_threads() == threads
        return threads


def test_option_then_environment_then_one_thread_and_restored(no_env):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert _inside() == cli.DEFAULT_THREADS == 1
        assert torch.get_num_threads() == 2  # restored
        no_env.setenv(cli.THREADS_ENV, " 3 ")
        assert _inside() == 3 and _inside(1) == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_a_bad_environment_value_is_refused(no_env, text):
    no_env.setenv(cli.THREADS_ENV, text)
    with pytest.raises(ValueError, match="MIESTIM_NUM_THREADS must be a positive integer"):
        _inside()


def test_the_command_line_option_reaches_the_config():
    args = cli.build_parser().parse_args(["train", "--preset", "smoke", "--num-threads", "2"])
    assert cli.config_from_args(args).num_threads == 2
