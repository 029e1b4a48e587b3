import pytest
import torch

import miestim
from miestim import ESTIMATORS, MINE, SMILE, InfoNCE
from miestim.estimators import make_estimator
from miestim.functional import dv_lower_bound, js_objective


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_forward_is_a_differentiable_scalar_for_every_estimator(name):
    torch.manual_seed(0)
    est = make_estimator(name, 3, 2)
    x = torch.randn(16, 3, requires_grad=True)
    y = torch.randn(16, 2)
    value = est(x, y)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    # Gradients reach the critic and the upstream inputs, so the module works as a loss term.
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in est.critic.parameters())


def test_all_estimators_share_the_base_class_and_names():
    assert set(ESTIMATORS) == {"dv", "nwj", "mine", "infonce", "js", "smile", "tuba", "interpolated"}
    assert all(issubclass(cls, miestim.MIEstimator) for cls in ESTIMATORS.values())


def test_training_an_estimator_as_a_loss_increases_it():
    torch.manual_seed(0)
    x, y = miestim.gaussian.CorrelatedGaussianTask(2, 1.0).sample(512, seed=0)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    est = InfoNCE(2, 2)
    opt = torch.optim.Adam(est.parameters(), lr=1e-3)
    with torch.no_grad():
        before = float(est(x, y))
    for _ in range(150):
        opt.zero_grad()
        (-est(x, y)).backward()
        opt.step()
    with torch.no_grad():
        assert float(est(x, y)) > before + 0.5


def test_mine_keeps_its_moving_average_in_a_buffer():
    torch.manual_seed(0)
    est = MINE(2, 2, momentum=0.5)
    assert "log_ema" in est.state_dict()
    x, y = torch.randn(8, 2), torch.randn(8, 2)
    est(x, y)
    first = est.log_ema.clone()
    assert torch.isfinite(first)
    est(x * 2, y)
    assert not torch.equal(first, est.log_ema)
    est.eval()
    frozen = est.log_ema.clone()
    est(x * 3, y)
    assert torch.equal(frozen, est.log_ema)  # evaluation never moves the training statistic
    two = MINE(2, 2)
    assert torch.isnan(two.log_ema)  # no state shared between instances


@pytest.mark.parametrize("name", ["smile", "js"])
def test_classifier_critics_stop_on_their_training_objective(name):
    est = make_estimator(name, 2, 2)
    scores = torch.randn(6, 6, generator=torch.Generator().manual_seed(0)) * 4
    assert float(est.validation_score(scores, torch.zeros(6, 2))) == pytest.approx(float(js_objective(scores)))
    dv = make_estimator("dv", 2, 2)
    assert float(dv.validation_score(scores, torch.zeros(6, 2))) == pytest.approx(float(dv_lower_bound(scores)))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_quadratic_critic_only_with_estimators_that_do_not_train_on_exp_scores(name):
    quadratic = {"critic_kwargs": {"quadratic": True}}
    if name in {"dv", "nwj", "mine", "tuba", "interpolated"}:
        with pytest.raises(ValueError, match=f"estimator '{name}' trains on e\\^f of the product pairs"):
            make_estimator(name, 3, 3, **quadratic)
        with pytest.raises(ValueError, match="quadratic=False"):
            make_estimator(name, 3, 3, critic=miestim.SeparableCritic(3, 3, quadratic=True))
    else:
        est = make_estimator(name, 3, 3, **quadratic)
        assert est.critic.quadratic and torch.isfinite(est(torch.randn(8, 3), torch.randn(8, 3)))


def test_estimator_argument_errors():
    with pytest.raises(ValueError, match="estimator must be one of .* Did you mean 'smile'"):
        make_estimator("smiel", 2, 2)
    with pytest.raises(TypeError, match="estimator must be a name"):
        make_estimator(3, 2, 2)
    with pytest.raises(ValueError, match="estimator was built for x_dim=2, y_dim=2"):
        make_estimator(InfoNCE(2, 2), 3, 2)
    with pytest.raises(ValueError, match="InfoNCE was built for x_dim=2, y_dim=2"):
        InfoNCE(2, 2)(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="same n"):
        InfoNCE(2, 2)(torch.zeros(4, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="x_dim must be an integer >= 1"):
        InfoNCE(0, 2)
    with pytest.raises(ValueError, match="clip must be a finite number > 0"):
        SMILE(2, 2, clip=-1.0)
    with pytest.raises(ValueError, match=r"momentum must lie in \(0, 1\]"):
        MINE(2, 2, momentum=2.0)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        miestim.InterpolatedBound(2, 2, alpha=-0.1)
