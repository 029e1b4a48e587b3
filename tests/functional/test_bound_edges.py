"""The bounds' edges that the mutation run found untested: defaults, precision, the overflow guard, momentum 1, messages.

Each test pins one documented behaviour that a one-token change of the code altered without failing a test
(``python -m benchmarks mutation``; the survivors are listed in docs/benchmarks/mutation.json).
"""

import math

import pytest
import torch

from miestim import functional as F


def _scores(n: int = 6, *, dtype: torch.dtype = torch.float64, scale: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (scale * torch.randn(n, n, generator=g)).to(dtype)


def test_defaults_are_the_documented_ones():
    s = _scores(scale=6.0)  # entries beyond 5, so SMILE's default clip bites
    assert F.smile_lower_bound(s) == F.smile_lower_bound(s, clip=5.0) != F.smile_lower_bound(s, clip=6.0)
    assert F.tuba_lower_bound(s) == F.tuba_lower_bound(s, 0.0) != F.tuba_lower_bound(s, 1.0)
    assert F.interpolated_lower_bound(s) == F.interpolated_lower_bound(s, 0.0, alpha=0.5) != F.interpolated_lower_bound(s, 1.0)


def test_float64_scores_keep_float64_baselines_and_averages():
    # A baseline or MINE average given as a Python float must join float64 scores at float64, not float32, precision.
    s, a = _scores(), 0.123456789012345
    off = ~torch.eye(6, dtype=torch.bool)
    tuba = 1 + (s.diagonal() - a).mean() - torch.exp(s[off] - a).mean()
    assert float(F.tuba_lower_bound(s, a)) == pytest.approx(float(tuba), rel=1e-13)
    # MINE reads out DV; its average enters the gradient: -e^(S_ij - a) / (n (n - 1)) off the diagonal.
    s.requires_grad_()
    F.mine_lower_bound(s, a).backward()
    torch.testing.assert_close(s.grad[off], -torch.exp(s.detach()[off] - a) / 30, rtol=1e-13, atol=0)


def test_half_precision_scores_and_logits_are_upcast_to_float32():
    s = _scores(dtype=torch.float16, scale=1.0)
    for bound in (F.dv_lower_bound, F.nwj_lower_bound, F.infonce_lower_bound, F.smile_lower_bound):
        assert bound(s).dtype == torch.float32, bound.__name__
    logits = torch.linspace(-2, 2, 8, dtype=torch.bfloat16)
    assert F.two_sample_dv_bound(logits, logits.flip(0)).dtype == torch.float32
    assert F.two_sample_mean_log_ratio(logits).dtype == torch.float32


def test_nwj_partition_beyond_the_overflow_threshold_grows_linearly():
    # bexp(u) = e^min(u, T) (1 + max(u - T, 0)), T = log(float32 max) - 20: NWJ's partition term at u = T + 3.
    threshold = math.log(torch.finfo(torch.float32).max) - 20.0
    s = torch.zeros(4, 4, dtype=torch.float32)
    s[~torch.eye(4, dtype=torch.bool)] = threshold + 4.0  # log mean exp of the off-diagonal = T + 4; minus 1 = T + 3
    expected = -math.exp(threshold) * (1 + 3.0)
    assert float(F.nwj_lower_bound(s)) == pytest.approx(expected, rel=1e-4)


def test_mine_average_at_momentum_one_is_the_batch_partition():
    log_partition = torch.tensor(0.7, dtype=torch.float64)
    assert float(F.update_log_ema(torch.tensor(-3.0, dtype=torch.float64), log_partition, momentum=1.0)) == pytest.approx(0.7, abs=1e-15)
    half = F.update_log_ema(torch.tensor(-3.0, dtype=torch.float64), log_partition, momentum=0.5)
    assert float(half) == pytest.approx(math.log(0.5 * math.exp(-3.0) + 0.5 * math.exp(0.7)), rel=1e-13)


def test_messages_name_the_argument_and_the_type_received():
    with pytest.raises(TypeError, match=r"^scores must be a torch.Tensor .*; got list\.$"):
        F.dv_lower_bound([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=r"^product must be a floating-point torch.Tensor of logits; got list\.$"):
        F.two_sample_dv_bound(torch.zeros(3), [1.0, 2.0])
    for readout in (F.two_sample_nwj_bound, F.two_sample_mean_log_ratio):
        with pytest.raises(TypeError, match=r"^joint must be a floating-point torch.Tensor of logits; got tuple\.$"):
            readout((1.0, 2.0), *([torch.zeros(3)] if readout is F.two_sample_nwj_bound else []))
    for tau in (0.0, 1.0):  # both ends open
        with pytest.raises(ValueError, match=r"^tau must lie in \(0, 1\); got"):
            F.clip_logits(torch.zeros(3), tau=tau)
