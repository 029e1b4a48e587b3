"""Sentiment data: split invariants, MulT/MMIM and SDK round trips, every loader error, and the synthetic model's design."""

import csv
import pickle
import random
import warnings
from dataclasses import replace

import numpy as np
import pytest

from examples.sentiment.data import (
    SentimentData,
    SyntheticConfig,
    find_mmsa,
    find_unaligned,
    load_mmsa,
    load_sdk,
    load_unaligned,
    make_synthetic,
    write_mmsa,
    write_mosi_shaped,
    write_sdk,
    write_unaligned,
)
from examples.sentiment.data.sdk import pool_to_words
from examples.sentiment.data.synthetic import ASPECT_WORDS, POLARITY_WORDS, SARCASM_CUES

TINY = SyntheticConfig(n_train=20, n_valid=8, n_test=8, audio_len=12, audio_dim=3, vision_len=10, vision_dim=4, min_len=2)
NO_WEIGHTS = dict(shared=0.0, text_specific=0.0, audio_specific=0.0, visual_specific=0.0, complementary=0.0)
# 3000 samples: a correlation's standard error is about 1 / sqrt(3000) = 0.018.
BIG = dict(n_train=3000, n_valid=1, n_test=1, audio_len=10, audio_dim=3, vision_len=10, vision_dim=2, min_len=2)


@pytest.fixture(scope="module")
def tiny() -> SentimentData:
    return make_synthetic(TINY, seed=1)


def _assert_same_split(got, want, *, features=True):
    assert got.ids == want.ids and got.text == want.text
    np.testing.assert_array_equal(got.labels, want.labels)
    keys = ("audio", "audio_lengths", "vision", "vision_lengths") + (("text_features", "text_lengths") if features else ())
    for key in keys:
        np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)


def _features_only(split):
    """``split`` with one-word text features instead of raw text."""
    n = len(split)
    return replace(split, text=None, text_features=np.ones((n, 1, 2), np.float32), text_lengths=np.ones(n, np.int64))


def _edit_pickle(path, edit):
    """Replace the pickle at ``path`` by ``edit(content)``."""
    path.write_bytes(pickle.dumps(edit(pickle.loads(path.read_bytes()))))


# ----------------------------------------------------------------------------- SentimentSplit / SentimentData


def test_subset_takes_rows_in_order_from_every_field(tiny):
    part = tiny.train.subset([3, 0, 3])
    assert part.ids == [tiny.train.ids[i] for i in (3, 0, 3)] and part.text[1] == tiny.train.text[0]
    np.testing.assert_array_equal(part.audio[0], tiny.train.audio[3])
    np.testing.assert_array_equal(part.latents["complementary"], tiny.train.latents["complementary"][[3, 0, 3]])
    assert len(tiny.train.subset(np.arange(20) < 5)) == 5 and len(tiny.train.subset([])) == 0


def test_subset_rejects_non_integer_indices(tiny):
    with pytest.raises(ValueError, match="subset indices must be a 1-D integer or boolean array"):
        tiny.train.subset([0.5, 1.0])


def test_construction_casts_float_and_integer_dtypes(tiny):
    split = replace(tiny.valid, labels=tiny.valid.labels.astype(np.float64), audio_lengths=tiny.valid.audio_lengths.astype(np.int32))
    assert split.labels.dtype == np.float32 and split.audio_lengths.dtype == np.int64


def _nonzero_padding(s):
    audio = s.audio.copy()
    audio[0, -1] = 1.0  # the first tiny train sample is shorter than L_a (asserted in the test)
    return {"audio": audio}


@pytest.mark.parametrize(
    "changes, match",
    [
        (lambda s: {"ids": list(range(20))}, "ids must all be str"),
        (lambda s: {"labels": s.labels[:-1]}, r"labels must be a float32 array of shape \(20,\)"),
        (lambda s: {"labels": np.full(20, 3.5)}, r"labels must be finite and in \[-3, 3\]"),
        (lambda s: {"audio": s.audio[:, :, 0]}, r"audio must be a float32 array of shape \(20, L, d\)"),
        (lambda s: {"audio_lengths": s.audio_lengths.astype(float)}, "audio_lengths must be an int64 array"),
        (lambda s: {"vision_lengths": np.zeros(20, np.int64)}, r"vision_lengths must be in \[1, 10\]"),
        (lambda s: {"audio": np.where(s.audio == s.audio[0, 0, 0], np.nan, s.audio)}, "audio holds non-finite values"),
        (_nonzero_padding, "audio must be zero after audio_lengths"),
        (lambda s: {"text_features": s.audio}, "text_features and text_lengths must be given together"),
        (lambda s: {"text": None}, "needs text or text_features"),
        (lambda s: {"text": s.text[:-1]}, "text must be 20 str"),
        (lambda s: {"latents": {"shared": np.zeros(3)}}, r"latents\['shared'\] must have shape \(20,\)"),
    ],
)
def test_split_validation_names_the_field(tiny, changes, match):
    assert tiny.train.audio_lengths[0] < TINY.audio_len
    with pytest.raises(ValueError, match=f"SentimentSplit 'train': {match}"):
        replace(tiny.train, **changes(tiny.train))


def test_data_checks_widths_and_text_presence_across_splits(tiny):
    assert list(tiny.splits()) == ["train", "valid", "test"]
    with pytest.raises(ValueError, match=r"'x': vision widths differ across splits: \[2, 4\]"):
        SentimentData(tiny.train, tiny.valid, replace(tiny.test, vision=tiny.test.vision[:, :, :2]), name="x")
    features = dict(text_features=np.ones((8, 1, 3), np.float32), text_lengths=np.ones(8, np.int64))
    valid, test = replace(tiny.valid, **features), replace(tiny.test, **features)
    with pytest.raises(ValueError, match=r"text_features widths differ across splits: \[3, None\]"):
        SentimentData(tiny.train, valid, test, name="x")
    with pytest.raises(ValueError, match="text is given for some splits only"):
        SentimentData(valid, valid, replace(test, text=None), name="x")


# ----------------------------------------------------------------------------- MulT / MMIM unaligned files


def test_unaligned_round_trip_matches_csv_rows_by_id(tiny, tmp_path):
    pickle_path, csv_path = write_unaligned(tiny, tmp_path)
    with csv_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert [f"{r[0]}_{r[1]}" for r in body] != [i for s in tiny.splits().values() for i in s.ids]  # shuffled
    assert header == ["video_id", "clip_id", "text", "label", "mode"]
    assert "syn_0000" in {r[0] for r in body}  # a video id with an underscore
    random.Random(7).shuffle(body)  # an order of our own, not the writer's
    with csv_path.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    loaded = load_unaligned(pickle_path, csv_path, name="tiny")
    assert loaded.name == "tiny"
    for name, split in tiny.splits().items():
        got = loaded.splits()[name]
        _assert_same_split(got, split, features=False)
        np.testing.assert_array_equal(got.text_lengths, [len(t.replace(",", "").split()) for t in split.text])
        assert got.text_features.shape[2] == 300


def test_unaligned_rewrite_keeps_text_features_and_pads_to_given_lengths(tiny, tmp_path):
    once = load_unaligned(*write_unaligned(tiny, tmp_path / "a"))
    twice = load_unaligned(*write_unaligned(once, tmp_path / "b", audio_len=15, vision_len=10))
    assert twice.train.audio.shape == (20, 15, 3)
    np.testing.assert_array_equal(twice.train.audio[:, :12], once.train.audio)
    _assert_same_split(twice.test, replace(once.test, audio=np.pad(once.test.audio, ((0, 0), (0, 3), (0, 0)))))


def _write_hand_made(tmp_path, splits=("train", "valid", "test")):
    """Three identical 3-sample splits: a zero frame inside a sequence, an all-zero sequence, a full one."""
    x, y = [1.0, 2.0], [3.0, 4.0]
    audio = np.array([[[0, 0], [0, 0], x, [0, 0], y], np.zeros((5, 2)), [x, y, x, y, x]], dtype=np.float32)
    vision = np.zeros((3, 4, 1), np.float32)
    vision[:, -1] = 5.0
    ids = np.array([[b"-3g5yACwYnA_1", b"x"], [b"_dI--eQ6qVU_12", b"x"], [b"plain_3", b"x"]], dtype=object)
    split = {"audio": audio, "vision": vision, "labels": np.array([-3.0, 0.0, 2.6]).reshape(3, 1, 1), "id": ids}
    pickle_path = tmp_path / "hand.pkl"
    pickle_path.write_bytes(pickle.dumps({name: dict(split) for name in splits}))
    csv_path = tmp_path / "hand.csv"
    csv_path.write_text('video_id,clip_id,text,extra\nplain,3,"c, c",0\n_dI--eQ6qVU,12,b,0\n-3g5yACwYnA,1,a,0\n')
    return pickle_path, csv_path, audio


def test_unaligned_left_padding_to_valid_first_lengths(tmp_path):
    pickle_path, csv_path, audio = _write_hand_made(tmp_path)
    data = load_unaligned(pickle_path, csv_path)
    split = data.valid
    assert split.ids == ["-3g5yACwYnA_1", "_dI--eQ6qVU_12", "plain_3"] and split.text == ["a", "b", "c, c"]
    np.testing.assert_array_equal(split.labels, np.float32([-3.0, 0.0, 2.6]))
    # the zero frame after the first real one is kept; the all-zero sequence is one zero frame
    np.testing.assert_array_equal(split.audio_lengths, [3, 1, 5])
    np.testing.assert_array_equal(split.audio[0], np.concatenate([audio[0, 2:], np.zeros((2, 2))]))
    np.testing.assert_array_equal(split.audio[1], 0.0)
    np.testing.assert_array_equal(split.audio[2], audio[2])
    np.testing.assert_array_equal(split.vision_lengths, [1, 1, 1])
    assert split.text_features is None and split.text_lengths is None


def test_unaligned_max_len_crops_to_last_frames_with_a_warning(tmp_path):
    pickle_path, csv_path, audio = _write_hand_made(tmp_path)
    with pytest.warns(UserWarning, match=r"hand.pkl: cropped to their last max_len=2 frames: train audio 2, valid audio 2, test audio 2\."):
        data = load_unaligned(pickle_path, csv_path, max_len=2)
    np.testing.assert_array_equal(data.test.audio_lengths, [2, 1, 2])
    np.testing.assert_array_equal(data.test.audio[0], audio[0, 3:])  # [zero frame, y]
    np.testing.assert_array_equal(data.test.audio[2], audio[2, 3:])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_unaligned(pickle_path, csv_path, max_len=8).train.audio.shape == (3, 8, 2)


def test_unaligned_nonfinite_zero_replaces_and_warns(tmp_path):
    pickle_path, csv_path, _ = _write_hand_made(tmp_path)
    _edit_pickle(pickle_path, _set("train", "audio", lambda s: np.where(s["audio"] == 3.0, -np.inf, s["audio"])))
    with pytest.raises(ValueError, match=r"hand.pkl: split 'train' key 'audio' holds 3 non-finite value\(s\)"):
        load_unaligned(pickle_path, csv_path)
    with pytest.warns(UserWarning, match="non-finite values set to 0: train audio 3"):
        data = load_unaligned(pickle_path, csv_path, nonfinite="zero")
    np.testing.assert_array_equal(data.train.audio_lengths, [3, 1, 5])  # -inf frames stay real frames
    assert data.train.audio[0, 2, 0] == 0.0 and data.train.audio[0, 2, 1] == 4.0


def _set(split, key, value):
    """Edit: key ``key`` of ``split`` becomes ``value(old split)``."""
    return lambda c: {**c, split: {**c[split], key: value(c[split])}}


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: {k: v for k, v in c.items() if k != "valid"}, "missing split 'valid'"),
        (lambda c: {**c, "test": [1]}, "split 'test' must be a dict of arrays; got list"),
        (lambda c: {**c, "test": {k: v for k, v in c["test"].items() if k != "vision"}}, "split 'test' has no key 'vision'"),
        (_set("train", "audio", lambda s: s["audio"][:-1]), "split 'train' key 'audio' has 2 rows but 'id' has 3"),
        (_set("train", "vision", lambda s: s["vision"][:, :, 0]), r"split 'train' key 'vision' must be 3-D \(N, L, d\)"),
        (_set("train", "id", lambda s: s["id"][:, :, None]), "split 'train' key 'id' must be 1-D or 2-D"),
        (_set("train", "labels", lambda s: np.zeros((3, 2))), "split 'train' key 'labels' must hold one score per id"),
        (_set("valid", "labels", lambda s: np.array([0.0, 3.5, 0.0])), r"split 'valid' key 'labels' must be finite and in \[-3, 3\]"),
        (_set("valid", "labels", lambda s: np.array([0.0, np.nan, 0.0])), r"split 'valid' key 'labels' must be finite"),
        (_set("test", "vision", lambda s: np.full_like(s["vision"], np.nan)), "split 'test' key 'vision' holds 12 non-finite"),
        (_set("test", "id", lambda s: np.array(["nounderscore", "a_1", "b_2"])), "split 'test': id 'nounderscore' is not of the form"),
        (lambda c: [c], "expected a dict of splits; got list"),
    ],
)
def test_unaligned_pickle_errors_name_file_and_key(tmp_path, edit, match):
    pickle_path, csv_path, _ = _write_hand_made(tmp_path)
    _edit_pickle(pickle_path, edit)
    with pytest.raises(ValueError, match=f"hand.pkl.*{match}"):
        load_unaligned(pickle_path, csv_path)


@pytest.mark.parametrize(
    "csv, match",
    [
        (
            "video_id,clip_id,text\nplain,3,c\n_dI--eQ6qVU,12,b\n",
            r"hand.csv: 1 of 3 ids of split 'train' in .*hand.pkl are absent, e.g. \['-3g5yACwYnA_1'\]",
        ),
        ("video_id,clip_id,transcript\nplain,3,c\n", r"hand.csv: missing column\(s\) \['text'\]"),
        ("video_id,clip_id,text\nplain,3,c\nplain,3,d\n", r"hand.csv: duplicate \(video_id, clip_id\) rows, e.g. \('plain', '3'\)"),
    ],
)
def test_unaligned_csv_errors_name_the_csv(tmp_path, csv, match):
    pickle_path, csv_path, _ = _write_hand_made(tmp_path)
    csv_path.write_text(csv)
    with pytest.raises(ValueError, match=match):
        load_unaligned(pickle_path, csv_path)


def test_unaligned_missing_files_and_bad_options(tmp_path):
    pickle_path, csv_path, _ = _write_hand_made(tmp_path)
    with pytest.raises(FileNotFoundError, match="no file .*absent.csv"):
        load_unaligned(pickle_path, tmp_path / "absent.csv")
    with pytest.raises(ValueError, match="max_len must be None or an int >= 1; got 0"):
        load_unaligned(pickle_path, csv_path, max_len=0)
    with pytest.raises(ValueError, match=r"nonfinite must be one of \('raise', 'zero'\); got 'drop'"):
        load_unaligned(pickle_path, csv_path, nonfinite="drop")


def test_find_unaligned_takes_the_published_names(tmp_path):
    (tmp_path / "mosi_data_noalign.pkl").touch()
    (tmp_path / "label.csv").touch()
    assert find_unaligned(tmp_path) == (tmp_path / "mosi_data_noalign.pkl", tmp_path / "label.csv")
    (tmp_path / "MOSI-label.csv").touch()  # MMIM's name is tried first
    assert find_unaligned(tmp_path)[1] == tmp_path / "MOSI-label.csv"
    (tmp_path / "mosei_senti_data_noalign.pkl").touch()
    (tmp_path / "MOSEI-label.csv").touch()
    assert find_unaligned(tmp_path, dataset="mosei") == (tmp_path / "mosei_senti_data_noalign.pkl", tmp_path / "MOSEI-label.csv")


def test_find_unaligned_lists_every_name_it_looked_for(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"lacks the MulT/MMIM MOSEI file\(s\) mosei_senti_data_noalign.pkl, MOSEI-label.csv or label.csv "
        r"\(looked for mosei_senti_data_noalign.pkl and MOSEI-label.csv / label.csv\)",
    ):
        find_unaligned(tmp_path, dataset="mosei")
    (tmp_path / "mosi_data_noalign.pkl").touch()
    with pytest.raises(FileNotFoundError, match=r"MOSI file\(s\) MOSI-label.csv or label.csv \("):
        find_unaligned(tmp_path)
    with pytest.raises(ValueError, match=r"find_unaligned: dataset must be one of \['mosei', 'mosi'\]; got 'iemocap'"):
        find_unaligned(tmp_path, dataset="iemocap")


def test_write_unaligned_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match="write_unaligned: audio_len=3 is shorter than the longest audio sequence"):
        write_unaligned(tiny, tmp_path, audio_len=3)
    no_text = SentimentData(**{k: _features_only(s) for k, s in tiny.splits().items()}, name="t")
    with pytest.raises(ValueError, match="write_unaligned: split 'train' of 't' has no raw text for the CSV"):
        write_unaligned(no_text, tmp_path)
    bad_id = SentimentData(replace(tiny.train, ids=["noid"] + tiny.train.ids[1:]), tiny.valid, tiny.test, name="t")
    with pytest.raises(ValueError, match=r"write_unaligned\('t'\): id 'noid' is not of the form"):
        write_unaligned(bad_id, tmp_path)


# ----------------------------------------------------------------------------- CMU-SDK word-aligned files


def test_pool_to_words_averages_equal_spans():
    frames = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.testing.assert_array_equal(pool_to_words(frames, 3), [[1, 2], [5, 6], [9, 10]])
    np.testing.assert_array_equal(pool_to_words(frames[:2], 3), [[0, 1], [0, 1], [2, 3]])  # fewer frames than words
    np.testing.assert_array_equal(pool_to_words(frames, 6), frames)


def test_sdk_round_trip(tiny, tmp_path):
    paths = write_sdk(tiny, tmp_path / "a")
    assert [p.name for p in paths] == ["mosi_train.pkl", "mosi_valid.pkl", "mosi_test.pkl"]
    once = load_sdk(tmp_path / "a")
    assert once.name == "mosi_sdk"
    for name, split in tiny.splits().items():
        got = once.splits()[name]
        assert got.ids == split.ids and got.text == split.text and got.text_features is None
        np.testing.assert_array_equal(got.labels, split.labels)
        n_words = [len(t.split()) for t in split.text]
        np.testing.assert_array_equal(got.audio_lengths, n_words)
        np.testing.assert_array_equal(got.vision_lengths, n_words)
        pooled = pool_to_words(split.vision[0, : split.vision_lengths[0]], n_words[0])
        np.testing.assert_allclose(got.vision[0, : n_words[0]], pooled)
    # now frames are word-aligned already, so pooling is the identity: an exact round trip
    write_sdk(once, tmp_path / "b", dataset="mosei")
    for name, split in load_sdk(tmp_path / "b", dataset="mosei").splits().items():
        _assert_same_split(split, once.splits()[name], features=False)


def test_sdk_max_len_crops_last_words_with_a_warning(tiny, tmp_path):
    write_sdk(tiny, tmp_path)
    full = load_sdk(tmp_path)
    with pytest.warns(UserWarning, match=r"cropped to their last max_len=4 frames: train audio 20, train vision 20, valid audio 8"):
        data = load_sdk(tmp_path, max_len=4)
    assert data.train.audio.shape == (20, 4, 3) and data.train.text == full.train.text
    k = full.train.audio_lengths[0]
    np.testing.assert_array_equal(data.train.audio[0], full.train.audio[0, k - 4 : k])


def test_sdk_feature_words_bytes_and_sdk_ids(tiny, tmp_path):
    paths = write_sdk(tiny, tmp_path)

    def to_features(samples):
        for i, sample in enumerate(samples):
            sample[0][0] = np.ones((len(sample[0][0]), 6), np.float64) * i
            sample[4] = sample[4].rsplit("_", 1)[0].encode() + b"[%d]" % i  # SDK spelling, as bytes
            sample[1] = float(sample[1][0, 0])
        return samples

    for path in paths:
        _edit_pickle(path, to_features)
    data = load_sdk(tmp_path)
    assert data.train.text is None and data.train.text_features.shape[2] == 6
    np.testing.assert_array_equal(data.train.text_lengths, data.train.audio_lengths)
    assert data.valid.ids[3] == tiny.valid.ids[3].rsplit("_", 1)[0] + "_3"
    np.testing.assert_array_equal(data.valid.labels, tiny.valid.labels)


def _sample(index, position, value):
    """Edit: set element ``position`` (a tuple path) of sample ``index`` to ``value(old)``."""

    def edit(samples):
        target = samples[index]
        for key in position[:-1]:
            target = target[key]
        target[position[-1]] = value(target[position[-1]])
        return samples

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda s: {"not": "a list"}, "expected a non-empty list of samples; got dict"),
        (lambda s: [], "expected a non-empty list of samples; got list"),
        (_sample(0, (0,), lambda old: [old[0]]), r"sample 0 must be \[\[L, A, V\], label, label_2, label_7, segment_id\]"),
        (_sample(1, (0, 0), lambda old: np.ones((len(old), 4))), "sample 1 field L mixes word strings and feature arrays"),
        (_sample(2, (0, 0), lambda old: 5), r"sample 2 field L must be word strings or a float array \(n_words, d_t\); got int"),
        (_sample(0, (0, 0), lambda old: []), "sample 0 field L has no words"),
        (_sample(3, (0, 1), lambda old: old[:-1]), r"sample 3 field A must have shape \(n_words=\d+, d\)"),
        (_sample(4, (0, 2), lambda old: old[:, :-1]), "sample 4 field V has width 3, sample 0 has 4"),
        (_sample(5, (1,), lambda old: np.array([[4.0]])), r"sample 5 label must be finite and in \[-3, 3\]; got 4.0"),
        (_sample(5, (1,), lambda old: np.array([1.0, 2.0])), r"sample 5 label must be one number; got shape \(2,\)"),
        (_sample(6, (0, 1), lambda old: np.vstack([[np.nan] + [0] * (old.shape[1] - 1), old[1:]])), "sample 6 field A holds 1 non-finite"),
        (_sample(7, (4,), lambda old: 7), "sample 7 segment_id must be a str; got int"),
    ],
)
def test_sdk_errors_name_file_sample_and_field(tiny, tmp_path, edit, match):
    write_sdk(tiny, tmp_path)
    _edit_pickle(tmp_path / "mosi_train.pkl", edit)
    with pytest.raises(ValueError, match=f"mosi_train.pkl: {match}"):
        load_sdk(tmp_path)


def test_sdk_missing_file_and_write_errors(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="load_sdk: no file .*mosei_train.pkl"):
        load_sdk(tmp_path, dataset="mosei")
    no_text = SentimentData(**{k: _features_only(s) for k, s in tiny.splits().items()}, name="t")
    with pytest.raises(ValueError, match="write_sdk: split 'train' of 't' has no raw text to write as L"):
        write_sdk(no_text, tmp_path)
    empty = SentimentData(tiny.train, replace(tiny.valid, text=[" "] + tiny.valid.text[1:]), tiny.test, name="t")
    with pytest.raises(ValueError, match=r"write_sdk: split 'valid' sample 0 \('syn\w+_\d+'\) has no words"):
        write_sdk(empty, tmp_path)


# ----------------------------------------------------------------------------- MMSA processed pickles


@pytest.mark.parametrize("padding", ["end", "start"])
def test_mmsa_round_trip_with_either_padding(tiny, tmp_path, padding):
    path = write_mmsa(tiny, tmp_path, padding=padding)
    content = pickle.loads(path.read_bytes())
    train = content["train"]
    assert train["text_bert"].shape == (20, 3, train["text"].shape[1]) and all("$_$" in i for i in train["id"])
    assert {"raw_text", "audio_lengths", "vision_lengths", "regression_labels", "classification_labels", "annotations"} <= set(train)
    loaded = load_mmsa(path)
    assert loaded.name == "mmsa_unaligned_50"
    for name, split in tiny.splits().items():
        got = loaded.splits()[name]
        _assert_same_split(got, split, features=False)
        # one token per word: the mask sums are the text lengths
        np.testing.assert_array_equal(got.text_lengths, [max(1, len(t.replace(",", "").split())) for t in split.text])


def test_mmsa_aligned_file_takes_the_text_lengths(tiny, tmp_path):
    path = write_mmsa(tiny, tmp_path, file_name="aligned_50.pkl", aligned=True)
    assert "audio_lengths" not in pickle.loads(path.read_bytes())["valid"]
    split = load_mmsa(path).valid
    np.testing.assert_array_equal(split.audio_lengths, split.text_lengths)
    np.testing.assert_array_equal(split.vision_lengths, split.text_lengths)
    k = split.text_lengths[0]
    np.testing.assert_allclose(split.audio[0, :k], pool_to_words(tiny.valid.audio[0, : tiny.valid.audio_lengths[0]], k))


def test_mmsa_sims_file_ids_and_features_only(tiny, tmp_path):
    path = write_mmsa(tiny, tmp_path, file_name="unaligned_39.pkl", unimodal_labels=True)
    _edit_pickle(path, lambda c: {k: {key: v for key, v in s.items() if key != "raw_text"} for k, s in c.items()})
    data = load_mmsa(path, name="sims")
    assert data.name == "sims" and data.test.text is None and data.test.text_features.shape[2] == 300
    assert data.test.ids == tiny.test.ids  # "<video_id>$_$<clip_id>" read back as "<video_id>_<clip_id>"


def test_mmsa_lengths_are_clipped_to_the_array_with_a_warning(tiny, tmp_path):
    path = write_mmsa(tiny, tmp_path)

    def edit(c):
        c["train"]["audio_lengths"] = c["train"]["audio_lengths"] + 100  # MMSA-FET: the length before cropping
        c["train"]["vision"][0] = 0.0  # a sample whose features failed: no frames, length 0
        c["train"]["vision_lengths"][0] = 0
        c["valid"]["text_bert"] = c["valid"]["text_bert"].transpose(0, 2, 1)  # MMSA-FET's (N, L, 3)
        return c

    _edit_pickle(path, edit)
    with pytest.warns(UserWarning, match=r"lengths longer than the padded length, set to it .*: train audio 20\."):
        data = load_mmsa(path)
    assert (data.train.audio_lengths == TINY.audio_len).all() and data.train.vision_lengths[0] == 1
    np.testing.assert_array_equal(data.train.vision_lengths[1:], tiny.train.vision_lengths[1:])
    np.testing.assert_array_equal(data.valid.text_lengths, load_mmsa(write_mmsa(tiny, tmp_path / "b")).valid.text_lengths)


def test_mmsa_max_len_and_nonfinite(tiny, tmp_path):
    path = write_mmsa(tiny, tmp_path)
    _edit_pickle(path, _set("test", "audio", lambda s: np.where(s["audio"] == s["audio"][0, 0, 0], -np.inf, s["audio"])))
    with pytest.raises(ValueError, match=r"unaligned_50.pkl: split 'test' key 'audio' holds 1 non-finite value\(s\)"):
        load_mmsa(path)
    with pytest.warns(UserWarning, match=r"cropped to their last max_len=3 frames: .*non-finite values set to 0: test audio 1"):
        data = load_mmsa(path, max_len=3, nonfinite="zero")
    assert data.test.audio.shape == (8, 3, 3) and (data.test.audio_lengths <= 3).all()


def test_find_mmsa_names_folders_and_choice(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no MMSA pickle in .*; looked for .*unaligned_50.pkl, .*Processed/unaligned_50.pkl, .*_39.pkl"):
        find_mmsa(tmp_path)
    processed = write_mmsa(tiny, tmp_path / "Processed")  # MMSA's own layout: MOSI/Processed/unaligned_50.pkl
    assert find_mmsa(tmp_path) == processed
    aligned = write_mmsa(tiny, tmp_path, file_name="aligned_50.pkl", aligned=True)
    with pytest.raises(ValueError, match=r"holds several MMSA pickles .*; choose one with --mmsa-file NAME"):
        find_mmsa(tmp_path)
    assert find_mmsa(tmp_path, file="aligned_50.pkl") == aligned and find_mmsa(tmp_path, file=str(processed)) == processed
    with pytest.raises(FileNotFoundError, match=r"looked for .*mine.pkl, .*Processed/mine.pkl\."):
        find_mmsa(tmp_path, file="mine.pkl")


def _without(split, key):
    """Edit: ``split`` loses ``key``."""
    return lambda c: {**c, split: {k: v for k, v in c[split].items() if k != key}}


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: [c], "expected a dict of splits; got list"),
        (lambda c: {k: v for k, v in c.items() if k != "test"}, "missing split 'test'"),
        (lambda c: {**c, "valid": [1]}, "split 'valid' must be a dict of arrays; got list"),
        (_without("train", "regression_labels"), "split 'train' has no key 'regression_labels'"),
        (_without("train", "vision_lengths"), "split 'train' has no key 'vision_lengths', and 'vision' is not aligned to the text tokens"),
        (lambda c: _without("train", "text")(_without("train", "raw_text")(c)), "split 'train' has neither 'raw_text' nor 'text'"),
        (_set("train", "id", lambda s: np.arange(20)), "split 'train' key 'id' must hold 20 strings, one per row"),
        (_set("train", "id", lambda s: s["id"][:, None]), "split 'train' key 'id' must hold a 1-D sequence of strings"),
        (_set("valid", "raw_text", lambda s: s["raw_text"][:-1]), "split 'valid' key 'raw_text' must hold 8 strings"),
        (_set("valid", "regression_labels", lambda s: s["regression_labels"] * 5), r"split 'valid' key 'regression_labels' must be finite"),
        (_set("valid", "regression_labels", lambda s: np.zeros((8, 2))), "split 'valid' key 'regression_labels' must hold one score per id"),
        (_set("test", "audio", lambda s: s["audio"][:-1]), r"split 'test' key 'audio' must be \(N=8, L, d\)"),
        (_set("test", "vision_lengths", lambda s: s["vision_lengths"] + 0.5), "split 'test' key 'vision_lengths' must hold 8 whole numbers"),
        (_set("test", "audio_lengths", lambda s: np.ones(8, np.int64)), "split 'test' key 'audio' is zero-padded neither after 'audio_lengths'"),
        (_set("test", "text_bert", lambda s: s["text_bert"][:, :2]), r"split 'test' key 'text_bert' must be \(N=8, 3, L\) token ids, mask, segments"),
    ],
)
def test_mmsa_errors_name_file_split_and_key(tiny, tmp_path, edit, match):
    path = write_mmsa(tiny, tmp_path)
    _edit_pickle(path, edit)
    with pytest.raises(ValueError, match=f"unaligned_50.pkl: {match}"):
        load_mmsa(path)


def test_mmsa_missing_file_and_write_errors(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="load_mmsa: no file .*absent.pkl"):
        load_mmsa(tmp_path / "absent.pkl")
    with pytest.raises(ValueError, match="write_mmsa: padding must be 'end' or 'start'; got 'left'"):
        write_mmsa(tiny, tmp_path, padding="left")
    no_text = SentimentData(**{k: _features_only(s) for k, s in tiny.splits().items()}, name="t")
    with pytest.raises(ValueError, match="write_mmsa: split 'train' of 't' has no raw text"):
        write_mmsa(no_text, tmp_path)


# ----------------------------------------------------------------------------- synthetic data


def test_synthetic_shapes_ids_and_labels(tiny):
    for name, split in tiny.splits().items():
        n = {"train": 20, "valid": 8, "test": 8}[name]
        assert split.audio.shape == (n, 12, 3) and split.vision.shape == (n, 10, 4) and len(split.text) == n
        assert split.audio_lengths.min() >= 2 and split.text_features is None
        assert np.abs(split.labels).max() <= 3.0
        assert set(split.latents) == {"shared", "text", "audio", "visual", "b_text", "b_audio", "complementary"}
    ids = [i for s in tiny.splits().values() for i in s.ids]
    assert len(set(ids)) == len(ids) and any(i.startswith("syn_") for i in ids) and any(not i.startswith("syn_") for i in ids)


def test_synthetic_is_deterministic_by_seed_and_per_split(tiny):
    again = make_synthetic(TINY, seed=1)
    for name, split in tiny.splits().items():
        _assert_same_split(again.splits()[name], split, features=False)
    assert make_synthetic(TINY, seed=2).train.text != tiny.train.text
    bigger_train = make_synthetic(replace(TINY, n_train=40), seed=1)
    np.testing.assert_array_equal(bigger_train.test.labels, tiny.test.labels)


def test_synthetic_text_renders_its_factors():
    data = make_synthetic(replace(TINY, n_train=200), seed=0)
    for sentence, b_text in zip(data.train.text, data.train.latents["b_text"]):
        words = sentence.replace(",", "").split()
        assert sum(w in POLARITY_WORDS for w in words) == 1 and sum(w in ASPECT_WORDS for w in words) == 1
        assert sentence.startswith(SARCASM_CUES) == bool(b_text)


def test_synthetic_complementary_factor_is_only_in_the_pair():
    split = make_synthetic(SyntheticConfig(**{**NO_WEIGHTS, "complementary": 1.0}, **BIG), seed=0).train

    def corr(key):
        return np.corrcoef(split.labels, split.latents[key])[0, 1]

    # b_text and b_audio are each independent of the label: |r| below 0.1, over 5 standard errors.
    assert abs(corr("b_text")) < 0.1 and abs(corr("b_audio")) < 0.1
    # label = 1.5 (2b - 1) + 0.2 z: r = 1.5 / sqrt(1.5^2 + 0.2^2) = 0.99.
    assert corr("complementary") > 0.95
    np.testing.assert_array_equal(split.latents["complementary"], np.logical_xor(split.latents["b_text"], split.latents["b_audio"]))


def test_synthetic_shared_factor_is_visible_in_text_audio_and_vision():
    split = make_synthetic(SyntheticConfig(**{**NO_WEIGHTS, "shared": 1.0}, **BIG), seed=0).train
    audio_mean = split.audio[:, :, 0].sum(axis=1) / split.audio_lengths
    vision_mean = split.vision[:, :, 0].sum(axis=1) / split.vision_lengths
    polarity = [next(POLARITY_WORDS.index(w) for w in t.replace(",", "").split() if w in POLARITY_WORDS) for t in split.text]
    # Expected r ~ 0.86: the per-utterance nuisance (sigma = 0.5) and, for text, 7-level rounding; 0.75 is 6 SE below.
    for observed in (audio_mean, vision_mean, polarity):
        assert np.corrcoef(split.labels, observed)[0, 1] > 0.75
    assert abs(np.corrcoef(split.labels, split.latents["text"])[0, 1]) < 0.1  # an unweighted factor stays out


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"shared": -1.0}, "SyntheticConfig.shared must be a finite number >= 0; got -1.0"),
        ({"noise": float("nan")}, "SyntheticConfig.noise must be a finite number >= 0"),
        ({"observation_noise": True}, "SyntheticConfig.observation_noise must be a finite number >= 0; got True"),
        (NO_WEIGHTS, "SyntheticConfig: at least one of shared, text_specific, audio_specific, visual_specific, complementary must be > 0"),
        ({"n_valid": 0}, "SyntheticConfig.n_valid must be an int >= 1; got 0"),
        ({"n_test": 2.5}, "SyntheticConfig.n_test must be an int >= 1; got 2.5"),
        ({"audio_dim": 2}, "SyntheticConfig.audio_dim must be an int >= 3"),
        ({"min_len": 1}, "SyntheticConfig.min_len must be an int >= 2"),
        ({"vision_len": 7}, "SyntheticConfig.vision_len must be an int >= 8; got 7"),
    ],
)
def test_synthetic_config_errors_name_the_field(changes, match):
    with pytest.raises(ValueError, match=match):
        SyntheticConfig(**changes)


def test_write_mosi_shaped_has_mosi_shapes(tmp_path):
    # about 1.5 s: 2199 utterances, 150 MB written and read back
    data = load_unaligned(*write_mosi_shaped(tmp_path))
    assert [len(s) for s in data.splits().values()] == [1284, 229, 686]
    assert data.train.audio.shape[1:] == (375, 5) and data.test.vision.shape[1:] == (500, 20)
    assert data.valid.audio_lengths.min() >= 20 and data.train.vision_lengths.max() == 500
