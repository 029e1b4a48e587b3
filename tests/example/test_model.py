"""The MIMRL network and its MI terms, on random tensors (no data files, no text model)."""

import pytest
import torch

from examples.sentiment.mi_terms import CMI_TRIPLES, GROUPS, MI_PAIRS, TERM_NAMES, TERM_PARTS, MITerms
from examples.sentiment.model import CubeMLP, MIMRLModel, PublishedCubeMLPBlock, SequenceEncoder, masked_mean, resample_time


def _batch(b=6, text_dim=12, gen=None):
    gen = gen or torch.Generator().manual_seed(0)
    return {
        "text": torch.randn(b, 7, text_dim, generator=gen),
        "text_lengths": torch.tensor([7, 3, 1, 5, 7, 2][:b]),
        "audio": torch.randn(b, 9, 5, generator=gen),
        "audio_lengths": torch.tensor([9, 1, 4, 9, 2, 6][:b]),
        "vision": torch.randn(b, 8, 4, generator=gen),
        "vision_lengths": torch.tensor([3, 8, 8, 1, 5, 2][:b]),
    }


def test_resample_time_keeps_short_sequences_and_averages_long_ones():
    states = torch.arange(10.0).reshape(1, 10, 1).repeat(2, 1, 1)
    out = resample_time(states, torch.tensor([10, 3]), 4).squeeze(-1)
    # length 10 -> 4 segments [0,1,2], [3,4], [5,6,7], [8,9]; length 3 <= 4 is kept and zero padded.
    torch.testing.assert_close(out, torch.tensor([[1.0, 3.5, 6.0, 8.5], [0.0, 1.0, 2.0, 0.0]]))


def test_masked_mean_ignores_padding():
    states = torch.tensor([[[1.0], [3.0], [100.0]]])
    assert float(masked_mean(states, torch.tensor([2]))) == 2.0


@pytest.mark.parametrize("kind, style", [("gru", "compact"), ("lstm", "compact"), ("conv", "compact"), ("gru", "published")])
def test_sequence_encoder_output_does_not_depend_on_padding_content(kind, style):
    torch.manual_seed(0)
    enc = SequenceEncoder(5, 8, kind=kind, style=style).eval()
    frames, lengths = torch.randn(3, 6, 5), torch.tensor([6, 2, 4])
    noisy = frames.clone()
    for row, n in enumerate(lengths):
        noisy[row, n:] = 1e3  # garbage where the sequence is padded
    a, b = enc(frames, lengths), enc(noisy, lengths)
    torch.testing.assert_close(a, b)
    assert (a[1, 2:] == 0).all()


def test_sequence_encoder_rejects_bad_options():
    with pytest.raises(ValueError, match="encoder kind"):
        SequenceEncoder(5, 8, kind="transformer")
    with pytest.raises(ValueError, match="d must be even"):
        SequenceEncoder(5, 7, kind="gru")
    with pytest.raises(ValueError, match="rnn_style must be one of"):
        SequenceEncoder(5, 8, style="wide")


def test_published_rnn_sums_the_directions_of_d_units_with_orthogonal_recurrent_weights():
    torch.manual_seed(0)
    enc = SequenceEncoder(5, 6, style="published", dropout=0.0).eval()
    assert (enc.rnn.hidden_size, enc.rnn.num_layers, enc.rnn.dropout) == (6, 2, 0.0)
    for name, weight in enc.rnn.named_parameters():
        if name.startswith("weight_hh"):  # (3H, H): orthonormal columns
            torch.testing.assert_close(weight.T @ weight, torch.eye(6), atol=1e-5, rtol=0)
    frames, lengths = torch.randn(2, 4, 5), torch.tensor([4, 3])
    states = enc.rnn(frames[:1, :4])[0]  # row 0 has no padding
    expected = enc.out(states[..., :6] + states[..., 6:])
    torch.testing.assert_close(enc(frames, lengths)[:1], expected)


def _published_block_reference(block, cube):
    """The published block written out axis by axis with einsum, from its weights."""
    letters = "ltd"  # time, modality, channel
    for axis, (mixer, residual, norm) in enumerate(zip(block.mixers, block.residuals, block.norms)):
        first, act, second = mixer
        src, dst = "bltd", "bltd".replace(letters[axis], "o")
        hidden = act(torch.einsum(f"{src},o{letters[axis]}->{dst}", cube, first.weight) + _along(first.bias, axis))
        mixed = torch.einsum(f"{dst},po->{dst.replace('o', 'p')}", hidden, second.weight) + _along(second.bias, axis)
        total = mixed + torch.einsum(f"{src},o{letters[axis]}->{dst}", cube, residual.weight)
        mean = total.mean(dim=axis + 1, keepdim=True)
        var = total.var(dim=axis + 1, unbiased=False, keepdim=True)
        cube = (total - mean) / torch.sqrt(var + 1e-6) * _along(norm.weight, axis) + _along(norm.bias, axis)
    return cube


def _along(vector, axis):
    shape = [1, 1, 1, 1]
    shape[axis + 1] = -1
    return vector.reshape(shape)


def test_published_cube_block_reduces_time_with_projected_residuals_and_per_axis_layernorm():
    torch.manual_seed(0)
    block = PublishedCubeMLPBlock((6, 3, 8), (4, 2, 8), activation="relu").eval()
    for module in block.modules():  # non-trivial LayerNorm affine parameters
        if isinstance(module, torch.nn.LayerNorm):
            torch.nn.init.normal_(module.weight)
            torch.nn.init.normal_(module.bias)
    # Hidden width = output size, a bias-free projection on every axis (3 x 2 on the modality axis too).
    assert [tuple(m[0].weight.shape) for m in block.mixers] == [(4, 6), (2, 3), (8, 8)]
    assert [tuple(r.weight.shape) for r in block.residuals] == [(4, 6), (2, 3), (8, 8)]
    assert all(r.bias is None for r in block.residuals) and [n.normalized_shape for n in block.norms] == [(4,), (2,), (8,)]
    cube = torch.randn(2, 6, 3, 8)
    out = block(cube)
    assert out.shape == (2, 4, 2, 8)
    torch.testing.assert_close(out, _published_block_reference(block, cube), atol=1e-5, rtol=1e-5)


def test_published_cubemlp_of_the_authors_shapes():
    fusion = CubeMLP([(100, 3, 128), (50, 3, 128), (10, 3, 128)], block="cube-published", dropout=0.0)
    outputs = []
    for block in fusion.blocks:
        block.register_forward_hook(lambda module, args, out: outputs.append(tuple(out.shape)))
    assert fusion(torch.randn(2, 100, 3, 128)).shape == (2, 128)
    assert outputs == [(2, 50, 3, 128), (2, 10, 3, 128)]
    # Per block: time MLP a*b + b + b*b + b, modality 2 * (3*3 + 3), channel 2 * (128*128 + 128), projections
    # a*b + 9 + 128*128, LayerNorms 2 * (b + 3 + 128).
    per_block = [a * b + b + b * b + b + 24 + 2 * (128 * 128 + 128) + a * b + 9 + 128 * 128 + 2 * (b + 3 + 128) for a, b in ((100, 50), (50, 10))]
    assert [sum(p.numel() for p in block.parameters()) for block in fusion.blocks] == per_block == [62_403, 50_843]
    with pytest.raises(ValueError, match="fusion must be one of"):
        CubeMLP([(4, 3, 8), (4, 3, 8)], block="cube")
    with pytest.raises(ValueError, match="fusion activation must be one of"):
        CubeMLP([(4, 3, 8), (4, 3, 8)], block="cube-published", activation="swish")


def test_cubemlp_shapes_and_errors():
    cube = torch.randn(2, 6, 3, 8)
    assert CubeMLP([(6, 3, 8), (4, 2, 8), (4, 2, 8)])(cube).shape == (2, 8)
    with pytest.raises(ValueError, match="at least two"):
        CubeMLP([(6, 3, 8)])
    with pytest.raises(ValueError, match="expects cubes"):
        CubeMLP([(5, 3, 8), (5, 3, 8)])(cube)


def test_model_forward_backward_and_padding_invariance():
    torch.manual_seed(0)
    model = MIMRLModel(12, 5, 4, d=8, fusion_len=4, fusion_blocks=1).eval()
    batch = _batch()
    out = model(batch)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"t": (6, 8), "a": (6, 8), "v": (6, 8), "f": (6, 8), "score": (6,)}
    padded = {k: v.clone() for k, v in batch.items()}
    for seq, lengths in (("text", "text_lengths"), ("audio", "audio_lengths"), ("vision", "vision_lengths")):
        for row, n in enumerate(batch[lengths]):
            padded[seq][row, n:] = 7.0
    torch.testing.assert_close(model(padded)["score"], out["score"])
    model.train()
    model(batch)["score"].sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_linear_text_projection_has_no_bias_norm_or_relu():
    model = MIMRLModel(12, 5, 4, d=8, fusion_len=4, fusion_blocks=1, text_projection="linear")
    assert [type(m).__name__ for m in model.text_proj] == ["Linear", "Dropout"] and model.text_proj[0].bias is None
    counts = model.parameter_counts()
    assert counts["text projection"] == 12 * 8 and counts["total"] == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="text_projection must be one of"):
        MIMRLModel(12, 5, 4, d=8, fusion_len=4, text_projection="mlp")


def test_model_rejects_inconsistent_fusion_shapes():
    with pytest.raises(ValueError, match="fusion_shapes must start"):
        MIMRLModel(12, 5, 4, d=8, fusion_len=4, fusion_shapes=[(4, 3, 8), (4, 3, 6)])
    with pytest.raises(ValueError, match="no text_encoder"):
        MIMRLModel(12, 5, 4, d=8, fusion_len=4)({"input_ids": torch.zeros(1, 2, dtype=torch.long), "attention_mask": torch.ones(1, 2)})


def test_term_algebra_matches_the_method():
    # Each term written out from METHOD.md section 3, independently of TERM_PARTS' encoding.
    values = {name: float(i + 1) ** 1.5 for i, name in enumerate([*MI_PAIRS, *CMI_TRIPLES])}
    mi = MITerms(4, [1.0] * 8)
    terms = {k: float(v) for k, v in mi.terms({k: torch.tensor(v) for k, v in values.items()}).items()}
    v = values
    expected = {
        "I(F;T)": v["I(F;T)"],
        "I(F;A)": v["I(F;A)"],
        "I(F;V)": v["I(F;V)"],
        "Inv": v["I(T;A)"] + v["I(T;V)"],
        "Comp": v["I(T;A|C)"] + v["I(T;V|C)"],
        "Spec_a": v["I(A;C|T)"] - v["I(T;A|C)"],
        "Spec_v": v["I(V;C|T)"] - v["I(T;V|C)"],
        "Spec_t": v["I(T;C|A)"] - v["I(T;A|C)"] + v["I(T;C|V)"] - v["I(T;V|C)"],
    }
    assert terms == pytest.approx(expected)
    assert set(TERM_PARTS) == set(TERM_NAMES) == {t for g in GROUPS.values() for t in g}


def test_only_estimators_of_weighted_terms_are_built():
    assert (len(MITerms(4, [1.0] * 8).mi), len(MITerms(4, [1.0] * 8).cmi)) == (5, 6)
    comp_only = MITerms(4, [0, 0, 0, 0, 0, 0, 0, 1])
    assert (len(comp_only.mi), len(comp_only.cmi), comp_only.active) == (0, 2, True)
    assert not MITerms(4, [0.0] * 8).active
    with pytest.raises(ValueError, match="weights must have 8"):
        MITerms(4, [1.0] * 3)
    with pytest.raises(ValueError, match="estimator must be one of"):
        MITerms(4, [1.0] * 8, estimator="ksg")


def test_estimates_are_differentiable_and_products_never_self_paired():
    torch.manual_seed(0)
    n, d = 64, 4
    feats = {k: torch.randn(n, d) for k in "tavf"}
    labels = torch.randn(n)
    mi = MITerms(d, [1.0] * 8, k=2)
    bank = mi.make_bank(feats, labels, seed=0)
    index = torch.arange(16)
    for x, _, z in CMI_TRIPLES.values():
        sampler = bank.samplers[z]
        assert (sampler.sample_indices(index) != index).all()
        drawn = bank.product_sample(x, z, index)  # (16, d): the x of one of the k nearest in z
        candidates = bank.columns[x][sampler.neighbors_[index]]  # (16, k, d)
        assert ((candidates == drawn.unsqueeze(1)).all(dim=2).any(dim=1)).all()
    live = {k: v[index].clone().requires_grad_(True) for k, v in feats.items()}
    objective = mi.objective(mi.terms(mi.estimates(live, labels[index], bank, index)))
    objective.backward()
    assert all(live[k].grad is not None and live[k].grad.abs().sum() > 0 for k in "tavf")
    loss = mi.estimator_loss(feats, labels, bank, torch.arange(n))
    assert loss.requires_grad and torch.isfinite(loss)


def test_held_out_reports_every_estimate_and_term():
    torch.manual_seed(0)
    feats = {k: torch.randn(40, 4) for k in "tavf"}
    values = MITerms(4, [1.0] * 8).held_out(feats, torch.randn(40), batch_size=16, seed=0)
    assert set(values) == set(MI_PAIRS) | set(CMI_TRIPLES) | set(TERM_NAMES)
    assert all(torch.isfinite(torch.tensor(v)) for v in values.values())


def test_mi_terms_defaults_are_the_documented_ones():
    terms = MITerms(8, (1.0, 0, 0, 0, 0, 0, 0, 0))
    (estimator,) = terms.mi.values()
    shapes = [tuple(p.shape) for p in estimator.critic.g.parameters()]
    assert shapes == [(128, 8), (128,), (64, 128), (64,)], "separable critics: hidden=(128,), embed_dim=64"
    assert terms.k == 2 and type(estimator).__name__ == "InfoNCE"
    wide = MITerms(8, (1.0, 0, 0, 0, 0, 0, 0, 0), critic_kwargs={"hidden": (16,), "embed_dim": 4})
    assert tuple(next(iter(wide.mi.values())).critic.g[0].weight.shape) == (16, 8)
