import pytest
import torch

from miestim import BilinearCritic, ConcatCritic, SeparableCritic
from miestim.critics import make_critic


@pytest.mark.parametrize("cls", [SeparableCritic, ConcatCritic, BilinearCritic])
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
