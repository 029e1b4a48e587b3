"""Two gloo processes against one: estimates, gradients, estimate_mi / estimate_cmi and the example's training.

Two ``torchrun --nproc_per_node 2`` launches compute the multi-process side — the library
checks (``_distributed_worker.py``) and ``-m examples.sentiment train`` —; the one-process
references are computed here on the concatenated batch. Tolerances: 1e-5 for
bounds, gradients and estimates (float32 rounding of embeddings computed on shards instead of
the whole batch); 1e-5 for the example's metrics and MI terms after 2 epochs (no dropout).
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import _distributed_worker as worker
import pytest
import torch

import miestim
from examples.sentiment.cli import main as sentiment_main
from examples.sentiment.data import SyntheticConfig, make_synthetic, write_unaligned
from examples.sentiment.train import _check_shares
from miestim.distributed import all_gather, all_gather_with_grad, average_gradients, broadcast_values, rank_slice, sum_values

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str) -> None:
    """``torchrun --nproc_per_node 2 ARGS`` with 1 thread per process; fails the test with the output on error."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        *args,
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def ranks(build_once):
    """The library checks under torchrun with 2 CPU processes: what each rank wrote (one launch per run)."""
    out = build_once("distributed", lambda out: _torchrun(str(Path(worker.__file__)), str(out)))
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)]


@pytest.fixture(scope="module")
def example_launch(tmp_path_factory):
    """``torchrun --nproc_per_node 2 -m examples.sentiment train`` on tiny MulT-style files: the data and run folders."""
    tmp = tmp_path_factory.mktemp("example")
    data = make_synthetic(SyntheticConfig(n_train=64, n_valid=32, n_test=32, audio_len=10, vision_len=8, min_len=3), seed=0)
    write_unaligned(data, tmp / "data")
    _torchrun("-m", "examples.sentiment", *worker.sentiment_args(str(tmp / "data"), str(tmp / "two")))
    return tmp / "data", tmp / "two"


@pytest.mark.parametrize("name", worker.BOUNDS)
def test_bound_and_ddp_gradients_equal_one_process_on_the_concatenated_batch(ranks, name):
    x, y = worker.global_batch()
    module = worker.build(name)
    value = module(x, y)
    value.backward()
    for rank in ranks:
        got = rank["bounds"][name]
        assert float(got["value"]) == pytest.approx(float(value.detach()), abs=TOL)
        for key, param in module.named_parameters():
            torch.testing.assert_close(got["grads"][key], param.grad, rtol=0, atol=TOL)


@pytest.mark.parametrize(
    "function, data, options",
    [
        ("estimate_mi", worker.mi_data, worker.MI_OPTIONS),
        ("estimate_mi[auto]", worker.mi_data, worker.AUTO_OPTIONS),
        ("estimate_cmi", worker.cmi_data, worker.CMI_OPTIONS),
    ],
)
def test_one_call_estimators_under_two_ranks_equal_one_process(ranks, function, data, options):
    single = getattr(miestim, function.removesuffix("[auto]"))(*data(), **options)
    assert ranks[0][function] == ranks[1][function]  # the same report on every rank
    got = ranks[0][function]
    assert got["value"] == pytest.approx(single.value, abs=TOL)
    assert got["stderr"] == pytest.approx(single.stderr, abs=TOL)
    assert got["history"].steps == single.history.steps
    assert got["history"].validation == pytest.approx(single.history.validation, abs=TOL)
    assert got["history"].train == pytest.approx(single.history.train, abs=TOL)


def test_knn_table_built_in_shares_equals_one_process(ranks):
    single = miestim.KNNSampler(worker.knn_bank(), k=3, seed=2)
    draws = single.sample_indices(torch.arange(301))
    for rank in ranks:
        assert torch.equal(rank["knn"]["neighbors"], single.neighbors_)
        assert torch.equal(rank["knn"]["draws"], draws)


def test_ranks_must_pass_the_same_data_and_matching_options(ranks):
    for rank in ranks:
        assert "every rank must pass the same estimate_mi's data" in rank["mismatch_error"]
        assert "rank 1 has {'n': 590" in rank["mismatch_error"]
        assert "distributed=False, but the estimator instance gathers" in rank["instance_error"]


def test_example_trains_under_torchrun_like_one_process(example_launch, tmp_path):
    data_dir, two_dir = example_launch
    sentiment_main(worker.sentiment_args(str(data_dir), str(tmp_path / "one")))
    one = json.loads((tmp_path / "one" / "report.json").read_text())
    two = json.loads((two_dir / "report.json").read_text())
    assert (one["processes"], two["processes"]) == (1, 2)
    assert two["selected_epoch"] == one["selected_epoch"]
    for part in ("valid", "test", "mi_terms_valid_nats"):
        assert two[part] == pytest.approx(one[part], abs=TOL), part
    rows = {name: list(csv.DictReader((path / "log.csv").open())) for name, path in (("one", tmp_path / "one"), ("two", two_dir))}
    for a, b in zip(rows["one"], rows["two"], strict=True):
        for key, value in a.items():
            if not key.startswith("seconds"):
                assert float(b[key]) == pytest.approx(float(value), abs=TOL), key
    # Rank 0 alone wrote the files (a second writer would have left a temporary checkpoint behind).
    assert sorted(p.name for p in two_dir.iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_helpers_are_the_identity_in_one_process():
    t = torch.randn(5, 3, requires_grad=True)
    assert all_gather_with_grad(t) is t and torch.equal(all_gather(t), t.detach())
    assert rank_slice(7) == slice(0, 7)
    assert broadcast_values([1.5, 2]) == [1.5, 2.0] and sum_values([3.0]) == [3.0]
    loss = (t**2).sum()
    loss.backward()
    assert torch.equal(average_gradients([t], loss=loss), loss.detach())


def test_knn_distributed_option_is_checked():
    with pytest.raises(TypeError, match="distributed must be True or False"):
        miestim.KNNSampler(worker.knn_bank(), k=3, distributed=None)
    alone = miestim.KNNSampler(worker.knn_bank(), k=3, seed=2, distributed=True)  # no process group: the usual build
    assert torch.equal(alone.neighbors_, miestim.KNNSampler(worker.knn_bank(), k=3, seed=2).neighbors_)


def test_global_batch_option_is_checked():
    with pytest.raises(TypeError, match="global_batch must be True, False or None"):
        miestim.InfoNCE(2, 2, global_batch="yes")
    with pytest.raises(ValueError, match="global_batch=True needs a SeparableCritic"):
        miestim.InfoNCE(2, 2, critic="concat", global_batch=True)
    assert not miestim.NWJ(2, 2, global_batch=True).scores_global_batch  # no process group: the local batch


@pytest.mark.parametrize("function", ["estimate_mi", "estimate_cmi"])
def test_distributed_needs_a_process_group(function):
    x, y = worker.mi_data()
    args = (x, y) if function == "estimate_mi" else (x, y, x[:, :1])
    with pytest.raises(ValueError, match="distributed=True, but no torch.distributed process group"):
        getattr(miestim, function)(*args, distributed=True)
    with pytest.raises(TypeError, match="distributed must be True, False or None"):
        getattr(miestim, function)(*args, distributed=1)


def test_example_needs_a_share_of_every_batch_on_every_rank():
    _check_shares(64, 16, 2)  # fine: 4 batches of 16, shares of 8
    with pytest.raises(ValueError, match="every global batch needs at least 4 samples"):
        _check_shares(66, 16, 4)
    with pytest.raises(ValueError, match="batch_size=2"):
        _check_shares(64, 2, 4)
