"""THUIAR MMSA's processed pickles of CMU-MOSI, CMU-MOSEI and CH-SIMS: find, load, and write a dataset in their layout.

MMSA publishes ``MOSI/Processed/unaligned_50.pkl`` and ``aligned_50.pkl``, the same two for
MOSEI, and ``SIMS/Processed/unaligned_39.pkl`` (:data:`MMSA_NAMES`; :func:`find_mmsa` looks in
the folder and in its ``Processed/``). Each is a dict ``{"train" | "valid" | "test": {key: array}}``
with N rows per key:

- ``raw_text`` (N,) transcripts;
- ``text`` (N, L_t, 768) token-level BERT features (bert-base-uncased; bert-base-chinese for
  SIMS), kept as ``text_features``;
- ``text_bert`` (N, 3, L_t): token ids, attention mask and segment ids of that tokenizer, as
  MMSA reads them ((N, L_t, 3), as MMSA-FET stacks them, is accepted too). Only the mask is
  read: its row sums are the text lengths (else the last non-zero frame of ``text`` ends it);
- ``audio`` (N, L_a, d_a) and ``vision`` (N, L_v, d_v) frames (MOSI 5-d COVAREP and 20-d FACET,
  MOSEI 74 and 35, SIMS 33 and 709; aligned files have L_a = L_v = L_t);
- ``audio_lengths``, ``vision_lengths`` (N,) true lengths, in unaligned files;
- ``regression_labels`` (N,) the score: [-3, 3] for MOSI / MOSEI, [-1, 1] for SIMS;
- ``id`` (N,) ``"<video_id>$_$<clip_id>"``, rewritten to ``"<video_id>_<clip_id>"``;
- ignored: ``annotations``, ``classification_labels`` and SIMS's unimodal
  ``regression_labels_T`` / ``_A`` / ``_V``.

**Lengths.** A file's own lengths are used, clipped to [1, L]: MMSA-FET records a length
before it crops a sequence to the file's L (keeping its first L frames), and writes length 0
for a sample whose features failed. Padding is zeros after the real frames (MMSA-FET) or
before them; which one is read off each split and modality: the side that is all zero in every
row. An aligned file without length keys gets the text lengths for audio and vision, the rule
MMSA applies to aligned data.

Unpickling runs code: load only files from a source you trust.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zlib
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
from .sdk import pool_to_words
from .unaligned import _text_rows, split_id

__all__ = ["MMSA_NAMES", "find_mmsa", "load_mmsa", "write_mmsa"]

#: The file names MMSA publishes (MOSI and MOSEI: 50 text tokens; SIMS: 39).
MMSA_NAMES = ("unaligned_50.pkl", "aligned_50.pkl", "unaligned_39.pkl")
_REQUIRED_KEYS = ("audio", "vision", "regression_labels", "id")
_MMSA_ID = "$_$"


def find_mmsa(data_dir: str | Path, *, file: str | None = None) -> Path:
    """The MMSA pickle in ``data_dir`` or ``data_dir/Processed``.

    Args:
        data_dir: the dataset folder (e.g. ``MOSI`` of MMSA's release).
        file: a file name (looked up in both folders) or a path; None: the one file of
            :data:`MMSA_NAMES` that is there.

    Raises:
        FileNotFoundError: no such file; the message lists every path looked at.
        ValueError: ``file`` is None and several of :data:`MMSA_NAMES` are there.
    """
    root = Path(data_dir)
    folders = (root, root / "Processed")
    names = MMSA_NAMES if file is None else (file,)
    looked = [Path(file)] if file is not None and Path(file).is_absolute() else [folder / name for name in names for folder in folders]
    found = [path for path in looked if path.is_file()]
    if not found:
        raise FileNotFoundError(f"find_mmsa: no MMSA pickle in {root}; looked for {', '.join(map(str, looked))}.")
    if len(found) > 1 and file is None:
        raise ValueError(f"find_mmsa: {root} holds several MMSA pickles {[str(p) for p in found]}; choose one with --mmsa-file NAME.")
    return found[0]


def _strings(value: object, n: int, where: str) -> list[str]:
    """A 1-D sequence of n str / bytes as a list of str (n = -1: the caller found no 1-D sequence)."""
    items = list(value.tolist() if isinstance(value, np.ndarray) else value) if np.ndim(value) == 1 else None
    if items is None or len(items) != n or not all(isinstance(v, (str, bytes)) for v in items):
        expected = "a 1-D sequence of strings" if n < 0 else f"{n} strings, one per row"
        raise ValueError(f"{where} must hold {expected}; got {type(value).__name__} of shape {np.shape(value)}.")
    return [v.decode("utf-8") if isinstance(v, bytes) else v for v in items]


def _lengths(value: object, n: int, full: int, where: str, clipped: dict[str, int], key: str) -> np.ndarray:
    """A key's lengths as (n,) int64 in [1, full]; the number set down to ``full`` goes to ``clipped[key]``."""
    raw = np.asarray(value)
    if raw.shape != (n,) or raw.dtype.kind not in "iuf" or not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
        raise ValueError(f"{where} must hold {n} whole numbers, one per row; got {raw.dtype} of shape {raw.shape}.")
    clipped[key] = int((raw > full).sum())
    return np.clip(raw.astype(np.int64), 1, full)


def _real_rows(frames: np.ndarray, lengths: np.ndarray, where: str, lengths_key: str) -> list[np.ndarray]:
    """Each row's ``lengths[i]`` real frames, from whichever side of the zero padding fits every row of the array."""
    full = frames.shape[1]
    position = np.arange(full)[None, :]
    nonzero = np.any(frames != 0, axis=2)
    after = np.any(nonzero & (position >= lengths[:, None]), axis=1)  # non-zero frames behind the length
    before = np.any(nonzero & (position < full - lengths[:, None]), axis=1)  # non-zero frames ahead of the last `length`
    if not after.any():
        return [frames[i, :k] for i, k in enumerate(lengths)]
    if not before.any():
        return [frames[i, full - k :] for i, k in enumerate(lengths)]
    raise ValueError(
        f"{where} is zero-padded neither after {lengths_key!r} (row {int(np.argmax(after))} has non-zero frames behind its length) "
        f"nor before it (row {int(np.argmax(before))}); the lengths do not fit the frames."
    )


def _text_lengths(raw: dict, n: int, features: np.ndarray, source: Path, where: str, clipped: dict[str, int], split: str) -> np.ndarray:
    """Text lengths: the row sums of ``text_bert``'s attention mask, else up to the last non-zero frame of ``text``."""
    full = features.shape[1]
    if "text_bert" not in raw:
        nonzero = np.any(features != 0, axis=2)
        return np.where(nonzero.any(axis=1), full - np.argmax(nonzero[:, ::-1], axis=1), 1).astype(np.int64)
    tokens = np.asarray(raw["text_bert"], dtype=np.float32)
    if tokens.ndim == 3 and tokens.shape[0] == n and tokens.shape[1] != 3 and tokens.shape[2] == 3:
        tokens = tokens.transpose(0, 2, 1)  # MMSA-FET's (N, L, 3)
    if tokens.ndim != 3 or tokens.shape[:2] != (n, 3):
        raise ValueError(f"{source}: {where} key 'text_bert' must be (N={n}, 3, L) token ids, mask, segments; got shape {tokens.shape}.")
    return _lengths(tokens[:, 1].sum(axis=1), n, full, f"{source}: {where} key 'text_bert' mask sums", clipped, f"{split} text")


def _load_split(raw: object, split: str, source: Path, max_len: int | None, nonfinite: str, counts: dict[str, dict[str, int]]) -> SentimentSplit:
    """One split of the pickle as a valid-first :class:`SentimentSplit`; ``counts`` gets its cropped / replaced / clipped numbers."""
    where = f"split {split!r}"
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: {where} must be a dict of arrays; got {type(raw).__name__}.")  # noqa: TRY004  (a malformed file, as the other loaders report it)
    missing = [key for key in _REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{source}: {where} has no key {missing[0]!r} (keys: {sorted(raw, key=str)}).")
    if "raw_text" not in raw and "text" not in raw:
        raise ValueError(f"{source}: {where} has neither 'raw_text' nor 'text' (keys: {sorted(raw, key=str)}).")
    n = len(raw["id"]) if np.ndim(raw["id"]) == 1 else -1
    ids = [i.replace(_MMSA_ID, "_") for i in _strings(raw["id"], n, f"{source}: {where} key 'id'")]
    labels = np.asarray(raw["regression_labels"], dtype=np.float64)
    if labels.shape[:1] != (n,) or labels.size != n:
        raise ValueError(f"{source}: {where} key 'regression_labels' must hold one score per id ({n}); got shape {labels.shape}.")
    labels = labels.reshape(n)
    if not np.all(np.abs(labels) <= LABEL_BOUND):  # also catches NaN
        raise ValueError(f"{source}: {where} key 'regression_labels' must be finite and in [-3, 3]; got [{labels.min()}, {labels.max()}].")
    text = _strings(raw["raw_text"], n, f"{source}: {where} key 'raw_text'") if "raw_text" in raw else None
    arrays = {}
    for key in ("text", "audio", "vision"):
        if key not in raw:
            continue  # only "text" is optional here
        frames = np.asarray(raw[key], dtype=np.float32)
        if frames.ndim != 3 or frames.shape[0] != n:
            raise ValueError(f"{source}: {where} key {key!r} must be (N={n}, L, d); got shape {frames.shape}.")
        arrays[key] = fix_nonfinite(frames, nonfinite, f"{source}: {where} key {key!r}", f"{split} {key}", counts["replaced"])
    sequences = {}
    if "text" in arrays:
        lengths = _text_lengths(raw, n, arrays["text"], source, where, counts["clipped"], split)
        sequences["text"] = [arrays["text"][i, :k] for i, k in enumerate(lengths)]
    for key in ("audio", "vision"):
        lengths_key, full = f"{key}_lengths", arrays[key].shape[1]
        if lengths_key in raw:
            lengths = _lengths(raw[lengths_key], n, full, f"{source}: {where} key {lengths_key!r}", counts["clipped"], f"{split} {key}")
        elif "text" in sequences and full == arrays["text"].shape[1]:  # aligned: one frame per text token
            lengths = np.array([len(row) for row in sequences["text"]], dtype=np.int64)
        else:
            raise ValueError(f"{source}: {where} has no key {lengths_key!r}, and {key!r} is not aligned to the text tokens to take theirs.")
        sequences[key] = _real_rows(arrays[key], lengths, f"{source}: {where} key {key!r}", lengths_key)
    packed = {}
    for key, rows in sequences.items():
        full = arrays[key].shape[1]
        packed[key] = pack_valid_first(rows, n, max_len or full, arrays[key].shape[2])
        counts["cropped"][f"{split} {key}"] = packed[key][2]
    text_features, text_lengths = packed["text"][:2] if "text" in packed else (None, None)
    return SentimentSplit(
        name=split,
        ids=ids,
        labels=labels.astype(np.float32),
        audio=packed["audio"][0],
        audio_lengths=packed["audio"][1],
        vision=packed["vision"][0],
        vision_lengths=packed["vision"][1],
        text=text,
        text_features=text_features,
        text_lengths=text_lengths,
    )


def load_mmsa(path: str | Path, *, max_len: int | None = None, nonfinite: str = "raise", name: str | None = None) -> SentimentData:
    """Load an MMSA processed pickle (layout: module docstring).

    Args:
        path: the pickle (see :func:`find_mmsa`).
        max_len: None keeps each array's length L; an int gives every sequence length
            ``max_len``: longer ones keep their LAST ``max_len`` frames, with a warning that counts them.
        nonfinite: "raise", or "zero" to set inf / NaN feature values to 0 with a warning (MMSA's
            own loader zeroes the -inf values of the audio the same way).
        name: the dataset name (default ``"mmsa_<file stem>"``).

    Returns:
        A :class:`SentimentData` with raw ``text`` (when the file has ``raw_text``) and
        ``text_features`` (when it has ``text``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: bad ``max_len`` / ``nonfinite``; the pickle is not a dict; a split or a key is
            missing; a wrong shape or row count; ids or transcripts not strings; labels
            non-finite or outside [-3, 3]; lengths not whole numbers; frames that are zero-padded
            on neither side of their lengths; non-finite features (under "raise"). Messages name
            the file, the split and the key.
    """
    check_loader_options(max_len, nonfinite)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_mmsa: no file {path}.")
    with path.open("rb") as f:
        content = pickle.load(f)
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected a dict of splits; got {type(content).__name__}.")  # noqa: TRY004  (a malformed file, as the other loaders report it)
    counts: dict[str, dict[str, int]] = {"cropped": {}, "replaced": {}, "clipped": {}}
    splits = {}
    for split in SPLIT_NAMES:
        if split not in content:
            raise ValueError(f"{path}: missing split {split!r} (has {sorted(content, key=str)}).")
        splits[split] = _load_split(content[split], split, path, max_len, nonfinite, counts)
    warn_changes(str(path), max_len, counts["cropped"], counts["replaced"])
    if any(counts["clipped"].values()):
        clipped = ", ".join(f"{k} {v}" for k, v in counts["clipped"].items() if v)
        warnings.warn(f"{path}: lengths longer than the padded length, set to it (the file holds their first frames): {clipped}.", stacklevel=2)
    return SentimentData(**splits, name=name or f"mmsa_{path.stem}")


def write_mmsa(
    data: SentimentData,
    out_dir: str | Path,
    *,
    file_name: str = "unaligned_50.pkl",
    aligned: bool = False,
    padding: str = "end",
    unimodal_labels: bool = False,
) -> Path:
    """Write ``data`` as an MMSA processed pickle (what :func:`load_mmsa` reads).

    ``text`` holds the data's ``text_features``, else a GloVe-like stand-in (a fixed random
    300-d vector per lower-cased word, see :func:`~examples.sentiment.data.write_unaligned`), one
    token per word, padded to the most tokens of any sample; ``text_bert`` has ids from a hash of
    each word, mask 1 on the tokens and segments 0. ``id`` is ``"<video_id>$_$<clip_id>"``;
    ``classification_labels`` 0 / 1 / 2 for negative / zero / positive scores and ``annotations``
    the matching words.

    Args:
        data: the dataset; every split needs raw ``text``.
        out_dir: folder to write into (created if missing).
        file_name: e.g. ``"unaligned_50.pkl"``, ``"aligned_50.pkl"``, ``"unaligned_39.pkl"``.
        aligned: True pools audio and vision to one frame per text token (:func:`pool_to_words`)
            and writes no length keys, as in MMSA's aligned files; False writes the sequences
            with ``audio_lengths`` / ``vision_lengths``.
        padding: ``"end"`` (zeros after the real frames, as MMSA-FET pads) or ``"start"``.
        unimodal_labels: also write SIMS's ``regression_labels_T`` / ``_A`` / ``_V`` (copies of the score).

    Returns:
        The pickle's path.

    Raises:
        ValueError: a split without raw text, or an unknown ``padding``.
    """
    if padding not in ("end", "start"):
        raise ValueError(f"write_mmsa: padding must be 'end' or 'start'; got {padding!r}.")
    splits = data.splits()
    for split in splits.values():
        if split.text is None:
            raise ValueError(f"write_mmsa: split {split.name!r} of {data.name!r} has no raw text.")
    text_rows = {name: _text_rows(split) for name, split in splits.items()}
    text_len = max([1] + [len(row) for rows, _ in text_rows.values() for row in rows])
    content = {}
    for name, split in splits.items():
        rows, dim = text_rows[name]
        tokens = [max(len(row), 1) for row in rows]
        entry = {"raw_text": np.array(split.text, dtype=object), "text": _pad([r[:text_len] for r in rows], text_len, dim, "end")}
        words = [re.findall(r"[a-z0-9']+", t.lower()) for t in split.text]  # the words of the stand-in vectors
        ids = [[zlib.crc32(w.encode("utf-8")) % 30000 for w in sentence[:text_len]] for sentence in words]
        entry["text_bert"] = np.zeros((len(split), 3, text_len), dtype=np.float32)
        for i, (row_ids, k) in enumerate(zip(ids, tokens)):
            entry["text_bert"][i, 0, : len(row_ids)] = row_ids
            entry["text_bert"][i, 1, :k] = 1
        for key in ("audio", "vision"):
            frames, lengths = getattr(split, key), getattr(split, f"{key}_lengths")
            real = [frames[i, :k] for i, k in enumerate(lengths)]
            if aligned:
                entry[key] = _pad([pool_to_words(r, k) for r, k in zip(real, tokens)], text_len, frames.shape[2], padding)
            else:
                entry[key] = _pad(real, frames.shape[1], frames.shape[2], padding)
                entry[f"{key}_lengths"] = lengths.astype(np.int64)
        labels = split.labels.astype(np.float32)
        entry["regression_labels"] = labels
        entry["classification_labels"] = np.where(labels < 0, 0, np.where(labels == 0, 1, 2)).astype(np.int64)
        entry["annotations"] = np.array([("Negative", "Neutral", "Positive")[c] for c in entry["classification_labels"]], dtype=object)
        entry["id"] = np.array([_MMSA_ID.join(split_id(i, f"write_mmsa({data.name!r})")) for i in split.ids], dtype=object)
        if unimodal_labels:
            entry.update({f"regression_labels_{m}": labels.copy() for m in "TAV"})
        content[name] = entry
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / file_name
    with path.open("wb") as f:
        pickle.dump(content, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def _pad(rows: list[np.ndarray], length: int, dim: int, padding: str) -> np.ndarray:
    """(N, length, dim) float32 with each row's frames first (``"end"`` padding) or last (``"start"``)."""
    out = np.zeros((len(rows), length, dim), dtype=np.float32)
    for i, row in enumerate(rows):
        start = 0 if padding == "end" else length - len(row)
        out[i, start : start + len(row)] = row
    return out
