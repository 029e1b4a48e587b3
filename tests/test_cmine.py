"""The CMINE module: scoring, loss, readouts, shape checks."""

import math

import pytest
import torch

from miestim import CMINE
from miestim.functional import two_sample_dv_bound, two_sample_nwj_bound


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    x, y, z = (torch.randn(16, d, generator=gen) for d in (2, 3, 1))
    return x, y, z, torch.randn(16, 2, generator=gen)


def make(**kwargs):
    torch.manual_seed(0)
    return CMINE(2, 3, 1, hidden=(8,), **kwargs)


def test_forward_is_the_dv_readout_and_differentiable(batch):
    cmine = make()
    x, y, z, xp = batch
    value = cmine(x, y, z, xp)
    joint, product = cmine.logits(x, y, z), cmine.product_logits(xp, y, z)
    assert torch.allclose(value, two_sample_dv_bound(joint, product))
    assert torch.allclose(cmine.estimate(x, y, z, xp, readout="nwj"), two_sample_nwj_bound(joint, product))
    assert torch.allclose(cmine.estimate(x, y, z, readout="mean_log_ratio"), joint.mean())
    value.backward()
    assert all(p.grad is not None for p in cmine.parameters())


def test_loss_is_balanced_cross_entropy(batch):
    cmine = make()
    x, y, z, xp = batch
    joint, product = cmine.logits(x, y, z), cmine.product_logits(xp, y, z)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = 0.5 * (bce(joint, torch.ones(16)) + bce(product, torch.zeros(16)))
    assert torch.allclose(cmine.loss(x, y, z, xp), expected)


def test_several_product_draws_per_anchor(batch):
    cmine = make()
    _, y, z, _ = batch
    xp = torch.randn(16, 4, 2)
    logits = cmine.product_logits(xp, y, z)
    assert logits.shape == (16, 4)
    assert torch.allclose(logits[:, 1], cmine.product_logits(xp[:, 1], y, z))


def test_readouts_use_clipped_logits(batch):
    cmine = make(tau=0.1)
    with torch.no_grad():
        cmine.net[-1].bias.fill_(1e3)  # every logit far beyond the clip
    x, y, z, xp = batch
    assert float(cmine(x, y, z, xp).detach()) == pytest.approx(0.0, abs=1e-5)
    assert float(cmine.estimate(x, y, z, readout="mean_log_ratio").detach()) == pytest.approx(math.log(9), rel=1e-5)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda c, b: c(b[0][:, :1], b[1], b[2], b[3]), ValueError, r"x must have shape \(n, 2\)"),
        (lambda c, b: c(b[0], b[1][:8], b[2], b[3]), ValueError, "same number of rows"),
        (lambda c, b: c(b[0], b[1], b[2], b[3][:8]), ValueError, "x_product must have shape"),
        (lambda c, b: c(b[0].numpy(), b[1], b[2], b[3]), TypeError, "x must be a torch.Tensor"),
        (lambda c, b: c.estimate(*b[:3], readout="dv"), ValueError, "needs x_product"),
        (lambda c, b: c.estimate(*b, readout="kl"), ValueError, "readout"),
    ],
)
def test_bad_calls_are_refused(batch, call, exc, match):
    with pytest.raises(exc, match=match):
        call(make(), batch)


@pytest.mark.parametrize("kwargs, match", [({"tau": 0.7}, "tau"), ({"activation": "sigmoidish"}, "activation")])
def test_bad_construction_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CMINE(1, 1, 1, **kwargs)
    with pytest.raises((TypeError, ValueError), match="z_dim"):
        CMINE(1, 1, 0)
