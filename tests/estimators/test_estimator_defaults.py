"""The estimator modules' and CMINE's documented defaults, and errors that name the argument at fault.

Mutation survivors before (``python -m benchmarks mutation``): a changed default or an error naming the wrong
argument passed every test, since the tests always passed the options explicitly or matched only part of a message.
"""

import pytest
import torch

import miestim
from miestim import ESTIMATORS, functional


def test_every_estimator_defaults_to_a_separable_critic_and_its_documented_options():
    for name, cls in ESTIMATORS.items():
        assert isinstance(cls(2, 2).critic, miestim.SeparableCritic), name
    assert miestim.JS(2, 2).report == "dv" and miestim.SMILE(2, 2).clip == 5.0 and miestim.MINE(2, 2).momentum == 0.01
    assert miestim.InterpolatedBound(2, 2).alpha == 0.5
    for cls in (miestim.TUBA, miestim.InterpolatedBound):  # a baseline MLP of 64 hidden units
        assert next(m for m in cls(2, 2).baseline.modules() if isinstance(m, torch.nn.Linear)).out_features == 64


def test_a_constant_log_baseline_is_one_learned_value_per_row():
    baseline = miestim.LogBaseline(3, hidden=())
    with torch.no_grad():
        baseline.constant.fill_(0.25)
    assert torch.equal(baseline(torch.randn(5, 3)), torch.full((5,), 0.25))


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda: miestim.DV(0, 2), "x_dim"),
        (lambda: miestim.DV(2, 0), "y_dim"),
        (lambda: miestim.JS(2, 2, report="kl"), "report"),
        (lambda: miestim.SMILE(2, 2, clip=0.0), "clip"),
        (lambda: miestim.MINE(2, 2, momentum=0.0), "momentum"),
        (lambda: miestim.InterpolatedBound(2, 2, alpha=1.5), "alpha"),
        (lambda: miestim.LogBaseline(0), "y_dim"),
        (lambda: miestim.CMINE(1, 1, 1).estimate(*[torch.zeros(4, 1)] * 4, readout="kl"), "readout"),
    ],
    ids=["x_dim", "y_dim", "report", "clip", "momentum", "alpha", "baseline-y_dim", "cmine-readout"],
)
def test_errors_name_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must"):
        build()


def test_cmine_reads_out_dv_by_default():
    g = torch.Generator().manual_seed(0)
    x, y, z, xp = torch.randn(4, 32, 1, generator=g)
    cmine = miestim.CMINE(1, 1, 1, hidden=(8,))
    with torch.no_grad():
        dv = functional.two_sample_dv_bound(cmine.logits(x, y, z), cmine.logits(xp, y, z))
        assert float(cmine.estimate(x, y, z, xp)) == pytest.approx(float(dv), abs=1e-6)
        assert float(cmine(x, y, z, xp)) == pytest.approx(float(dv), abs=1e-6)


def test_cmine_errors_name_the_argument_and_what_was_received():
    for dims, argument in (((0, 1, 1), "x_dim"), ((1, 0, 1), "y_dim"), ((1, 1, 0), "z_dim")):
        with pytest.raises(ValueError, match=rf"^{argument} must"):
            miestim.CMINE(*dims)
    cmine, ok = miestim.CMINE(1, 2, 3), torch.zeros(4, 1)
    with pytest.raises(TypeError, match=r"^y must be a torch.Tensor of shape \(n, 2\); got list\.$"):
        cmine.logits(ok, [[0.0, 0.0]] * 4, torch.zeros(4, 3))
    with pytest.raises(TypeError, match=r"^z must be a torch.Tensor of shape \(n, 3\); got tuple\.$"):
        cmine.logits(ok, torch.zeros(4, 2), ((0.0, 0.0, 0.0),) * 4)
    with pytest.raises(TypeError, match=r"^x_product must be a torch.Tensor; got list\.$"):
        cmine.product_logits([[0.0]] * 4, torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"^x_product must have shape \(n, 1\) or \(n, m, 1\) with n = 4 "):
        cmine.product_logits(torch.zeros(5, 1), torch.zeros(4, 2), torch.zeros(4, 3))


def test_every_estimator_passes_its_critic_and_process_options_through():
    for name, cls in ESTIMATORS.items():
        est = cls(2, 2, critic="concat", critic_kwargs={"hidden": (5,)}, global_batch=False)
        assert isinstance(est.critic, miestim.ConcatCritic) and est.global_batch is False, name
    for cls in (miestim.TUBA, miestim.InterpolatedBound):
        assert next(m for m in cls(2, 2, baseline_hidden=(7,)).baseline.modules() if isinstance(m, torch.nn.Linear)).out_features == 7


def test_a_log_baseline_mlp_adds_its_constant():
    baseline = miestim.LogBaseline(3, hidden=(4,))
    y = torch.randn(5, 3)
    with torch.no_grad():
        baseline.constant.fill_(0.25)
        torch.testing.assert_close(baseline(y), baseline.net(y).squeeze(-1) + 0.25)


def test_baseline_estimators_validate_on_their_bound_with_y():
    g = torch.Generator().manual_seed(0)
    scores, y = torch.randn(6, 6, generator=g), torch.randn(6, 2, generator=g)
    for est in (miestim.TUBA(2, 2), miestim.InterpolatedBound(2, 2)):
        assert torch.equal(est.validation_score(scores, y), est.bound(scores, y))


def test_mine_before_any_training_step_has_the_dv_gradient():
    # No moving average yet (evaluation mode, gradients on): MINE divides by the batch's own partition, i.e. DV.
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g)
    mine, dv = miestim.MINE(2, 2).eval(), miestim.DV(2, 2).eval()
    dv.critic.load_state_dict(mine.critic.state_dict())
    mine(x, y).backward()
    dv(x, y).backward()
    for a, b in zip(mine.critic.parameters(), dv.critic.parameters()):
        torch.testing.assert_close(a.grad, b.grad)


def test_estimator_kwargs_are_checked_against_the_estimator_by_name():
    x, y = torch.randn(100, 2), torch.randn(100, 2)
    with pytest.raises(TypeError, match=r"^estimator_kwargs has unknown option\(s\) \['bogus'\] for SMILE"):
        miestim.estimate_mi(x, y, estimator="smile", estimator_kwargs={"bogus": 1}, progress=False)
    with pytest.raises(TypeError, match=r"^estimator must be a name in \['dv', .*\] or an MIEstimator instance; got int\.$"):
        miestim.estimate_mi(x, y, estimator=3, progress=False)
