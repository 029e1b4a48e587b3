"""Thread-count-independent reductions: same bits for 1 and 2 threads, the plain result up to rounding."""

import pytest
import torch

from miestim import functional as F
from miestim._reduction import BLOCK, GRAIN, column_sum, fixed_order_logsumexp, fixed_order_mean, fixed_order_sum


@pytest.fixture()
def threads():
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


SIZES = [10, GRAIN - 1, GRAIN, 100_003, 3 * BLOCK * BLOCK + 7]
OPS = {
    "sum": fixed_order_sum,
    "mean": fixed_order_mean,
    "logsumexp": fixed_order_logsumexp,
    "column_sum_1": lambda t: column_sum(t.reshape(-1, 1)),
    "column_sum_3": lambda t: column_sum(t[: t.numel() // 3 * 3].reshape(-1, 3)),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("op", list(OPS))
def test_same_bits_for_one_and_two_threads_and_close_to_torch(op, size, threads):
    values = torch.randn(size, generator=torch.Generator().manual_seed(size)) * 3
    threads(1)
    one = OPS[op](values)
    threads(2)
    two = OPS[op](values)
    assert torch.equal(one, two)
    plain = {"sum": values.double().sum(), "mean": values.double().mean(), "logsumexp": torch.logsumexp(values.double(), 0)}
    if op in plain:
        assert float(one) == pytest.approx(float(plain[op]), rel=1e-5, abs=1e-2 if op == "sum" else 1e-5)


def test_small_inputs_are_the_plain_reduction_and_gradients_flow():
    values = torch.randn(100, requires_grad=True)
    assert torch.equal(fixed_order_sum(values), values.sum())
    big = torch.randn(GRAIN + 5, requires_grad=True)
    fixed_order_logsumexp(big).backward()
    assert torch.allclose(big.grad, torch.softmax(big.detach(), 0)) and torch.isfinite(big.grad).all()


def test_a_large_score_matrix_bound_is_thread_count_independent(threads):
    scores = torch.randn(300, 300, generator=torch.Generator().manual_seed(0)) * 2
    bounds = [F.js_objective, F.smile_lower_bound, F.dv_lower_bound, F.nwj_lower_bound, F.interpolated_lower_bound]
    threads(1)
    one = [b(scores) for b in bounds]
    threads(2)
    two = [b(scores) for b in bounds]
    assert all(torch.equal(a, b) for a, b in zip(one, two))
