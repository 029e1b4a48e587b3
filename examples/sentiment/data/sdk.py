"""CubeMLP / CMU-MultimodalSDK word-aligned CMU-MOSI / MOSEI pickles: load them, and write a dataset in their layout.

The files are ``{dataset}_train.pkl``, ``{dataset}_valid.pkl`` and ``{dataset}_test.pkl``, each a
list of samples ``[[L, A, V], label, label_2, label_7, segment_id]``:

- L: n_words word strings (joined with spaces into the raw transcript ``text``) or a float
  array (n_words, d_t) of GloVe / BERT word vectors (kept as ``text_features``); one split
  must not mix the two;
- A: (n_words, 74) COVAREP and V: (n_words, d_v) FACET (35 for MOSEI, 47 for MOSI), one row
  per word;
- label: the score, a float or a one-element array, in [-3, 3]; label_2 and label_7 are
  ignored (binary and 7-class metrics are derived from label);
- segment_id: ``"<video_id>_<clip_id>"``; the SDK spelling ``"<video_id>[<clip_id>]"`` is
  rewritten to it.

Each split is padded to its own longest n_words (or to ``max_len``), valid first, with
lengths = n_words. Unpickling runs code: load only files from a source you trust.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np

from ._split import (
    LABEL_BOUND,
    SPLIT_NAMES,
    SentimentData,
    SentimentSplit,
    check_loader_options,
    fix_nonfinite,
    pack_valid_first,
    warn_changes,
)

__all__ = ["load_sdk", "write_sdk"]

_SDK_ID = re.compile(r"^(.+)\[([^\]]+)\]$")
_MODALITIES = (("A", "audio"), ("V", "vision"), ("L", "text"))


def _words_or_features(value: object, where: str) -> list[str] | np.ndarray:
    """Field L as a list of words, or as a 2-D float32 array of word vectors.

    Raises:
        ValueError: neither (the message starts with ``where``).
    """
    items = value.tolist() if isinstance(value, np.ndarray) and value.dtype.kind in "USO" else value
    if isinstance(items, (list, tuple)) and all(isinstance(w, (str, bytes)) for w in items):
        return [w.decode("utf-8") if isinstance(w, bytes) else w for w in items]
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 2:
        raise ValueError(f"{where} field L must be word strings or a float array (n_words, d_t); got {type(value).__name__}.")
    return array


def _segment_id(value: object, where: str) -> str:
    """The segment id as ``"<video_id>_<clip_id>"``.

    Raises:
        ValueError: not a str / bytes.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise ValueError(f"{where} segment_id must be a str; got {type(value).__name__}.")  # noqa: TRY004 - a malformed file
    match = _SDK_ID.match(value)
    return f"{match[1]}_{match[2]}" if match else value


def _is_list(value: object, length: int) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == length


def _parse_sample(
    sample: object, where: str, split: str, nonfinite: str, replaced: dict[str, int]
) -> tuple[list[str] | None, dict[str, np.ndarray], float, str]:
    """One sample -> (words or None, {"A", "V"[, "L"]: (n_words, d) float32}, label, id)."""
    if not (_is_list(sample, 5) and _is_list(sample[0], 3)):
        raise ValueError(f"{where} must be [[L, A, V], label, label_2, label_7, segment_id]; got {type(sample).__name__}.")
    (text, audio, vision), label, _, _, segment = sample
    text = _words_or_features(text, where)
    n_words = len(text)
    if n_words == 0:
        raise ValueError(f"{where} field L has no words.")
    arrays = {"A": audio, "V": vision}
    if not isinstance(text, list):
        arrays["L"] = text
    for field, modality in _MODALITIES:
        if field in arrays:
            array = np.asarray(arrays[field], dtype=np.float32)
            if array.ndim != 2 or array.shape[0] != n_words:
                raise ValueError(f"{where} field {field} must have shape (n_words={n_words}, d); got {array.shape}.")
            arrays[field] = fix_nonfinite(array, nonfinite, f"{where} field {field}", f"{split} {modality}", replaced)
    score = np.asarray(label, dtype=np.float64).ravel()
    if score.size != 1:
        raise ValueError(f"{where} label must be one number; got shape {np.shape(label)}.")
    if not abs(score[0]) <= LABEL_BOUND:  # also catches NaN
        raise ValueError(f"{where} label must be finite and in [-3, 3]; got {score[0]}.")
    return (text if isinstance(text, list) else None), arrays, float(score[0]), _segment_id(segment, where)


def _load_split(path: Path, split: str, max_len: int | None, nonfinite: str, cropped: dict[str, int], replaced: dict[str, int]) -> SentimentSplit:
    """One ``{dataset}_{split}.pkl`` as a valid-first :class:`SentimentSplit`; ``cropped`` / ``replaced`` get its counts."""
    if not path.is_file():
        raise FileNotFoundError(f"load_sdk: no file {path}.")
    with path.open("rb") as f:
        samples = pickle.load(f)
    if not isinstance(samples, (list, tuple)) or not samples:
        raise ValueError(f"{path}: expected a non-empty list of samples; got {type(samples).__name__}.")
    parsed = [_parse_sample(sample, f"{path}: sample {i}", split, nonfinite, replaced) for i, sample in enumerate(samples)]
    first_words, first_arrays = parsed[0][0], parsed[0][1]
    for i, (words, arrays, _, _) in enumerate(parsed):
        if (words is None) != (first_words is None):
            raise ValueError(f"{path}: sample {i} field L mixes word strings and feature arrays with sample 0 in one split.")
        for field, array in arrays.items():
            if array.shape[1] != first_arrays[field].shape[1]:
                width = first_arrays[field].shape[1]
                raise ValueError(f"{path}: sample {i} field {field} has width {array.shape[1]}, sample 0 has {width}.")
    n = len(parsed)
    out_len = max_len or max(len(arrays["A"]) for _, arrays, _, _ in parsed)
    packed = {}
    for field, modality in _MODALITIES:
        if field in first_arrays:
            rows = (arrays[field] for _, arrays, _, _ in parsed)
            frames, lengths, cropped[f"{split} {modality}"] = pack_valid_first(rows, n, out_len, first_arrays[field].shape[1])
            packed[field] = frames, lengths
    text_features, text_lengths = packed.get("L", (None, None))
    return SentimentSplit(
        name=split,
        ids=[segment for _, _, _, segment in parsed],
        labels=np.array([label for _, _, label, _ in parsed], dtype=np.float32),
        audio=packed["A"][0],
        audio_lengths=packed["A"][1],
        vision=packed["V"][0],
        vision_lengths=packed["V"][1],
        text=None if first_words is None else [" ".join(words) for words, _, _, _ in parsed],
        text_features=text_features,
        text_lengths=text_lengths,
    )


def load_sdk(data_dir: str | Path, *, dataset: str = "mosi", max_len: int | None = None, nonfinite: str = "raise") -> SentimentData:
    """Load the three word-aligned SDK pickles ``{dataset}_{split}.pkl`` of ``data_dir`` (layout: module docstring).

    Args:
        data_dir: folder with the three files.
        dataset: file-name prefix ("mosi", "mosei").
        max_len: None pads each split to its longest n_words; an int gives every sequence length
            ``max_len``: longer ones keep their LAST ``max_len`` words, with a warning that counts
            them per split and modality (the raw transcript is kept whole).
        nonfinite: "raise", or "zero" to set inf / NaN feature values to 0 with a warning.

    Returns:
        ``SentimentData`` named ``"{dataset}_sdk"``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: bad ``max_len`` / ``nonfinite``; a file that is not a non-empty list; a
            malformed sample; L neither words nor a 2-D float array, empty, or mixing kinds in a
            split; A / V / L rows not n_words or widths differing across samples; a label not one
            number in [-3, 3]; non-finite features (under "raise"); a segment_id not a str.
            Messages name the file, the sample index and the field.
    """
    check_loader_options(max_len, nonfinite)
    cropped: dict[str, int] = {}
    replaced: dict[str, int] = {}
    splits = {split: _load_split(Path(data_dir) / f"{dataset}_{split}.pkl", split, max_len, nonfinite, cropped, replaced) for split in SPLIT_NAMES}
    warn_changes(f"load_sdk({str(data_dir)!r}, dataset={dataset!r})", max_len, cropped, replaced)
    return SentimentData(**splits, name=f"{dataset}_sdk")


def pool_to_words(frames: np.ndarray, n_words: int) -> np.ndarray:
    """Average (T, d) frames into (n_words, d) word-aligned rows.

    Word k gets the mean of frames ``floor(k T / n) .. floor((k + 1) T / n) - 1``: equal spans of
    the utterance, the way CMU-SDK averages the frames inside each word's time interval (synthetic
    data has no word timings). When T < n_words a span is empty and the word takes the one frame
    at its start, so T == n_words is the identity.
    """
    t = frames.shape[0]
    edges = np.arange(n_words + 1) * t // n_words
    # reduceat sums frames[edges[k]:edges[k+1]], and returns frames[edges[k]] when that span is empty.
    sums = np.add.reduceat(frames, edges[:-1], axis=0)
    return (sums / np.maximum(np.diff(edges), 1)[:, None]).astype(np.float32)


def write_sdk(data: SentimentData, out_dir: str | Path, *, dataset: str = "mosi") -> list[Path]:
    """Write ``data`` as the three SDK pickles ``{dataset}_{split}.pkl`` (what :func:`load_sdk` reads).

    L is the transcript split on whitespace; A and V are the true-length frames pooled to one row
    per word by :func:`pool_to_words`; label is ``np.array([[score]])``, label_2 ``score >= 0`` (as
    0. / 1.), label_7 ``round(score)``, segment_id the utterance id.

    Args:
        data: the dataset; every split needs raw ``text`` with at least one word per sample.
        out_dir: folder to write into (created if missing).
        dataset: file-name prefix.

    Returns:
        The three paths, in train / valid / test order.

    Raises:
        ValueError: a split without raw text, or a transcript without words.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, split in data.splits().items():
        if split.text is None:
            raise ValueError(f"write_sdk: split {name!r} of {data.name!r} has no raw text to write as L.")
        samples = []
        for i, text in enumerate(split.text):
            words = text.split()
            if not words:
                raise ValueError(f"write_sdk: split {name!r} sample {i} ({split.ids[i]!r}) has no words.")
            audio = pool_to_words(split.audio[i, : split.audio_lengths[i]], len(words))
            vision = pool_to_words(split.vision[i, : split.vision_lengths[i]], len(words))
            score = float(split.labels[i])
            labels = [np.array([[value]], dtype=np.float32) for value in (score, float(score >= 0), np.round(score))]
            samples.append([[words, audio, vision], *labels, split.ids[i]])
        path = out / f"{dataset}_{name}.pkl"
        with path.open("wb") as f:
            pickle.dump(samples, f, protocol=pickle.HIGHEST_PROTOCOL)
        paths.append(path)
    return paths
