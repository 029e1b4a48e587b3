import functools

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from miestim import BilinearCritic, ConcatCritic, SeparableCritic
from miestim.critics import make_critic
from miestim.gaussian import CorrelatedGaussianTask


@pytest.mark.parametrize(
    "cls",
    [SeparableCritic, functools.partial(SeparableCritic, quadratic=True), ConcatCritic, BilinearCritic],
    ids=["separable", "separable-quadratic", "concat", "bilinear"],
)
def test_score_matrix_shape_and_pair_scores_are_its_diagonal(cls):
    torch.manual_seed(0)
    critic = cls(3, 2)
    x, y = torch.randn(7, 3), torch.randn(7, 2)
    scores = critic(x, y)
    assert scores.shape == (7, 7)
    torch.testing.assert_close(critic.pair_scores(x, y), scores.diagonal())
    # S[i, j] must score x_i with y_j: permuting y permutes columns.
    perm = torch.randperm(7)
    torch.testing.assert_close(critic(x, y[perm]), scores[:, perm])


def test_separable_critic_options():
    critic = SeparableCritic(4, 5, embed_dim=8, hidden=(16, 16, 16), activation="tanh")
    assert critic.g[-1].out_features == 8
    assert sum(isinstance(m, torch.nn.Linear) for m in critic.g) == 4


def test_quadratic_branch_embeds_beside_the_mlp_and_scores_through_the_embeddings():
    critic = SeparableCritic(4, 6, embed_dim=8, quadratic=True)
    x, y = torch.randn(5, 4), torch.randn(5, 6)
    gx, hy = critic.embed(x, y)
    # rank min(dx, dy, embed_dim) + 2 = 6 beside the 8 MLP dimensions
    assert gx.shape == (5, 14) and hy.shape == (5, 14)
    torch.testing.assert_close(critic(x, y), critic.score_embeddings(gx, hy))
    torch.testing.assert_close(critic(x, y), critic.g(x) @ critic.h(y).T + critic.q(torch.cat([x, x * x], 1)) @ critic.r(torch.cat([y, y * y], 1)).T)
    assert SeparableCritic(40, 30, embed_dim=8, quadratic=True).q.out_features == 10


def test_quadratic_branch_represents_the_exact_gaussian_log_density_ratio():
    """With the MLP branch silenced, weights chosen by hand make f(x, y) = log p(x, y) / (p(x) p(y)) exactly."""
    d, task = 3, CorrelatedGaussianTask(3, 1.5)
    rho, var = task.rho, 1.0 - task.rho**2
    critic = SeparableCritic(d, d, quadratic=True)
    k = critic.q.out_features
    assert k == d + 2
    with torch.no_grad():
        for layer in (critic.g[-1], critic.h[-1]):
            layer.weight.zero_()
            layer.bias.zero_()
        q_w, q_b, r_w, r_b = (torch.zeros(k, 2 * d), torch.zeros(k), torch.zeros(k, 2 * d), torch.zeros(k))
        q_w[:d, :d] = torch.eye(d)  # q_i = x_i  paired with  r_i = rho / var * y_i
        r_w[:d, :d] = rho / var * torch.eye(d)
        q_w[d, d:] = -(rho**2) / (2 * var)  # q_d = -rho^2 / (2 var) sum x_i^2 - d/2 log var   paired with r_d = 1
        q_b[d] = -0.5 * d * np.log(var)
        r_b[d] = 1.0
        q_b[d + 1] = 1.0  # q_{d+1} = 1   paired with  r_{d+1} = -rho^2 / (2 var) sum y_i^2
        r_w[d + 1, d:] = -(rho**2) / (2 * var)
        for layer, (w, b) in ((critic.q, (q_w, q_b)), (critic.r, (r_w, r_b))):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    x, y = task.sample(6, seed=0, dtype=np.float64)
    cov = task.covariance
    expected = np.array([[multivariate_normal(np.zeros(2 * d), cov).logpdf(np.concatenate([xi, yj])) for yj in y] for xi in x])
    expected -= multivariate_normal(np.zeros(d), np.eye(d)).logpdf(x)[:, None] + multivariate_normal(np.zeros(d), np.eye(d)).logpdf(y)[None, :]
    scores = critic(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32))
    np.testing.assert_allclose(scores.detach().numpy(), expected, rtol=1e-4, atol=1e-4)


def test_make_critic_errors():
    with pytest.raises(ValueError, match="critic must be one of .* Did you mean 'concat'"):
        make_critic("concatt", 2, 2)
    with pytest.raises(TypeError, match="critic must be a name in"):
        make_critic(torch.nn.Linear(2, 2), 2, 2)
    with pytest.raises(ValueError, match="critic_kwargs .* cannot be applied"):
        make_critic(SeparableCritic(2, 2), 2, 2, hidden=(3,))
    with pytest.raises(ValueError, match="activation must be one of"):
        SeparableCritic(2, 2, activation="sigmoidal")
    with pytest.raises(ValueError, match="hidden width must be an integer >= 1"):
        SeparableCritic(2, 2, hidden=(0,))
    with pytest.raises(TypeError, match="quadratic must be True or False"):
        SeparableCritic(2, 2, quadratic="yes")
