"""MulT / MMIM "unaligned" CMU-MOSI / MOSEI files: load them, and write a dataset in their layout.

The pickle (``mosi_data_noalign.pkl``, ``mosei_senti_data_noalign.pkl``) is a dict
``{"train" | "valid" | "test": {"audio", "vision", "labels", "id"[, "text"]}}``:

- ``audio`` (N, L_a, d_a) COVAREP (MOSI 375 x 5, MOSEI 500 x 74) and ``vision`` (N, L_v, d_v)
  FACET (MOSI 500 x 20, MOSEI 500 x 35), LEFT-padded with all-zero frames;
- ``text`` (N, 50, 300) word-level GloVe, left-padded; optional, kept as ``text_features``;
- ``labels`` (N, 1, 1) scores in [-3, 3];
- ``id`` (N, k) whose column 0 is ``b"<video_id>_<clip_id>"`` (a 1-D array of ids is accepted too).

The raw transcripts come from the CSV (columns ``video_id, clip_id, text`` and any others),
matched by (video_id, clip_id), never by row position. In a dataset folder the files have their
published names (:data:`UNALIGNED_NAMES`, found by :func:`find_unaligned`): the MulT pickle
beside ``MOSI-label.csv`` / ``MOSEI-label.csv`` (the names MMIM's code reads) or ``label.csv``
(the name of MMSA's label file). An id is split at its LAST
underscore, because video ids may contain underscores (``"_dI--eQ6qVU_3"``).

True length of a left-padded sequence: the frames from the first frame that is not all zero
to the end, so an all-zero frame after it is kept as real. An all-zero sequence has no such
frame; it gets length 1 (one zero frame), because sequence encoders need at least one step.

Unpickling runs code: load only files from a source you trust.
"""

from __future__ import annotations

import csv
import functools
import pickle
import re
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
    left_pad,
    pack_valid_first,
    warn_changes,
)

__all__ = ["UNALIGNED_NAMES", "find_unaligned", "load_unaligned", "split_id", "write_unaligned"]

#: Published names in a dataset folder: dataset -> (pickle, transcript CSVs in the order they are tried).
UNALIGNED_NAMES = {
    "mosi": ("mosi_data_noalign.pkl", ("MOSI-label.csv", "label.csv")),
    "mosei": ("mosei_senti_data_noalign.pkl", ("MOSEI-label.csv", "label.csv")),
}

_REQUIRED_KEYS = ("audio", "vision", "labels", "id")
_CSV_COLUMNS = ("video_id", "clip_id", "text")
_WORD_DIM = 300  # GloVe width of the real files


def find_unaligned(data_dir: str | Path, *, dataset: str = "mosi") -> tuple[Path, Path]:
    """The pickle and transcript CSV of ``dataset`` in ``data_dir``, by their published names (:data:`UNALIGNED_NAMES`).

    The first CSV name found is taken (``MOSI-label.csv`` before ``label.csv``).

    Returns:
        (pickle path, CSV path).

    Raises:
        ValueError: ``dataset`` not in :data:`UNALIGNED_NAMES`.
        FileNotFoundError: a file is missing; the message lists every name looked for.
    """
    if dataset not in UNALIGNED_NAMES:
        raise ValueError(f"find_unaligned: dataset must be one of {sorted(UNALIGNED_NAMES)}; got {dataset!r}.")
    root = Path(data_dir)
    pickle_name, csv_names = UNALIGNED_NAMES[dataset]
    csv_path = next((root / name for name in csv_names if (root / name).is_file()), None)
    missing = ([pickle_name] if not (root / pickle_name).is_file() else []) + ([" or ".join(csv_names)] if csv_path is None else [])
    if missing:
        raise FileNotFoundError(
            f"find_unaligned: {root} lacks the MulT/MMIM {dataset.upper()} file(s) {', '.join(missing)} "
            f"(looked for {pickle_name} and {' / '.join(csv_names)})."
        )
    return root / pickle_name, csv_path


def split_id(utterance_id: str, source: str) -> tuple[str, str]:
    """``"<video_id>_<clip_id>"`` -> (video_id, clip_id), split at the LAST underscore.

    Raises:
        ValueError: no underscore, or an empty part (the message names ``source``).
    """
    video, _, clip = utterance_id.rpartition("_")
    if not video or not clip:
        raise ValueError(f"{source}: id {utterance_id!r} is not of the form '<video_id>_<clip_id>'.")
    return video, clip


def left_padded_lengths(frames: np.ndarray) -> np.ndarray:
    """(N, L, d) left-padded frames -> (N,) int64 true lengths (see the module docstring).

    Non-finite values count as non-zero, so call this before replacing them.
    """
    real = np.any(frames != 0, axis=2)
    first = np.argmax(real, axis=1)  # index of the first real frame (0 when there is none)
    return np.where(real.any(axis=1), frames.shape[1] - first, 1).astype(np.int64)


def _read_transcripts(path: Path) -> dict[tuple[str, str], str]:
    """{(video_id, clip_id): text} from the CSV; every column is read as text so ids keep their spelling."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        missing = [c for c in _CSV_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; has {columns}.")
        rows = list(reader)
    keys = [(row["video_id"].strip(), row["clip_id"].strip()) for row in rows]
    if len(set(keys)) != len(keys):
        seen: set[tuple[str, str]] = set()
        duplicate = next(key for key in keys if key in seen or seen.add(key))
        raise ValueError(f"{path}: duplicate (video_id, clip_id) rows, e.g. {duplicate}.")
    return dict(zip(keys, (row["text"] for row in rows)))


def _ids(value: object, source: str, where: str) -> list[str]:
    """Column 0 of the pickle's 2-D ``id`` array (or the 1-D array) as str."""
    array = np.asarray(value)
    if array.ndim == 2:
        array = array[:, 0]
    elif array.ndim != 1:
        raise ValueError(f"{source}: {where} key 'id' must be 1-D or 2-D; got shape {array.shape}.")
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array]


def _load_split(
    raw: object,
    split: str,
    source: Path,
    transcripts: dict[tuple[str, str], str],
    csv_path: Path,
    max_len: int | None,
    nonfinite: str,
    cropped: dict[str, int],
    replaced: dict[str, int],
) -> SentimentSplit:
    """One split of the pickle as a valid-first :class:`SentimentSplit`; ``cropped`` / ``replaced`` get its counts."""
    where = f"split {split!r}"
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: {where} must be a dict of arrays; got {type(raw).__name__}.")  # noqa: TRY004 - a malformed file
    missing = [key for key in _REQUIRED_KEYS if key not in raw]
    if missing:
        raise ValueError(f"{source}: {where} has no key {missing[0]!r} (keys: {sorted(raw)}).")
    ids = _ids(raw["id"], source, where)
    n = len(ids)
    labels = np.asarray(raw["labels"], dtype=np.float64)
    if labels.shape[:1] != (n,) or labels.size != n:
        raise ValueError(f"{source}: {where} key 'labels' must hold one score per id ({n}); got shape {labels.shape}.")
    labels = labels.reshape(n)
    if not np.all(np.abs(labels) <= LABEL_BOUND):  # also catches NaN
        raise ValueError(f"{source}: {where} key 'labels' must be finite and in [-3, 3]; got [{labels.min()}, {labels.max()}].")
    sequences: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("audio", "vision", "text"):
        if key not in raw:
            continue  # only "text" is optional; the others were checked above
        frames = np.asarray(raw[key], dtype=np.float32)
        if frames.ndim != 3:
            raise ValueError(f"{source}: {where} key {key!r} must be 3-D (N, L, d); got shape {frames.shape}.")
        if frames.shape[0] != n:
            raise ValueError(f"{source}: {where} key {key!r} has {frames.shape[0]} rows but 'id' has {n}.")
        lengths = left_padded_lengths(frames)
        frames = fix_nonfinite(frames, nonfinite, f"{source}: {where} key {key!r}", f"{split} {key}", replaced)
        full = frames.shape[1]
        rows = (frames[i, full - k :] for i, k in enumerate(lengths))
        packed, lengths, cropped[f"{split} {key}"] = pack_valid_first(rows, n, max_len or full, frames.shape[2])
        sequences[key] = packed, lengths
    keys = [split_id(i, f"{source} {where}") for i in ids]
    absent = [i for i, key in zip(ids, keys) if key not in transcripts]
    if absent:
        raise ValueError(f"{csv_path}: {len(absent)} of {n} ids of {where} in {source} are absent, e.g. {absent[:3]}.")
    text_features, text_lengths = sequences.get("text", (None, None))
    return SentimentSplit(
        name=split,
        ids=ids,
        labels=labels.astype(np.float32),
        audio=sequences["audio"][0],
        audio_lengths=sequences["audio"][1],
        vision=sequences["vision"][0],
        vision_lengths=sequences["vision"][1],
        text=[transcripts[key] for key in keys],
        text_features=text_features,
        text_lengths=text_lengths,
    )


def load_unaligned(
    pickle_path: str | Path,
    csv_path: str | Path,
    *,
    max_len: int | None = None,
    name: str = "mosi_unaligned",
    nonfinite: str = "raise",
) -> SentimentData:
    """Load a MulT / MMIM unaligned pickle and its transcript CSV (layout: module docstring).

    Args:
        pickle_path: the ``*_noalign.pkl`` file.
        csv_path: the CSV with columns ``video_id, clip_id, text``.
        max_len: None keeps each array's length L; an int gives every sequence (audio, vision,
            text features) length ``max_len``: longer real sequences keep their LAST ``max_len``
            frames, with a warning that counts them per split and modality.
        name: the dataset name.
        nonfinite: "raise", or "zero" to set inf / NaN feature values to 0 with a warning (MulT's
            loader zeroes the -inf values of the MOSEI audio the same way).

    Returns:
        A :class:`SentimentData` with raw ``text`` and, when the pickle has ``text``, ``text_features``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: bad ``max_len`` / ``nonfinite``; the pickle is not a dict; a split or key is
            missing; a wrong ndim; row counts differ from the ids; labels non-finite or outside
            [-3, 3]; non-finite features (under "raise"); a malformed id; ids absent from the CSV;
            the CSV lacks a column or repeats an id. Messages name the file and the key.
    """
    check_loader_options(max_len, nonfinite)
    pickle_path, csv_path = Path(pickle_path), Path(csv_path)
    for path in (pickle_path, csv_path):
        if not path.is_file():
            raise FileNotFoundError(f"load_unaligned: no file {path}.")
    with pickle_path.open("rb") as f:
        content = pickle.load(f)
    if not isinstance(content, dict):
        raise ValueError(f"{pickle_path}: expected a dict of splits; got {type(content).__name__}.")  # noqa: TRY004 - a malformed file
    transcripts = _read_transcripts(csv_path)
    cropped: dict[str, int] = {}
    replaced: dict[str, int] = {}
    splits = {}
    for split in SPLIT_NAMES:
        if split not in content:
            raise ValueError(f"{pickle_path}: missing split {split!r} (has {sorted(content, key=str)}).")
        splits[split] = _load_split(content[split], split, pickle_path, transcripts, csv_path, max_len, nonfinite, cropped, replaced)
    warn_changes(str(pickle_path), max_len, cropped, replaced)
    return SentimentData(**splits, name=name)


@functools.lru_cache(maxsize=65536)
def _word_vector(word: str) -> np.ndarray:
    """A GloVe stand-in: a fixed standard-normal (300,) vector per word, seeded by a stable hash of it."""
    return np.random.default_rng(zlib.crc32(word.encode("utf-8"))).standard_normal(_WORD_DIM).astype(np.float32)


def _text_rows(split: SentimentSplit) -> tuple[list[np.ndarray], int]:
    """Per-sample word vectors and their width: the split's own ``text_features`` if any, else hashed vectors of its words."""
    if split.text_features is not None:
        return [split.text_features[i, :k] for i, k in enumerate(split.text_lengths)], split.text_features.shape[2]
    rows = []
    for text in split.text:
        words = re.findall(r"[a-z0-9']+", text.lower())
        rows.append(np.stack([_word_vector(w) for w in words]) if words else np.zeros((0, _WORD_DIM), np.float32))
    return rows, _WORD_DIM


def write_unaligned(
    data: SentimentData,
    out_dir: str | Path,
    *,
    pickle_name: str = "mosi_data_noalign.pkl",
    csv_name: str = "label.csv",
    audio_len: int | None = None,
    vision_len: int | None = None,
) -> tuple[Path, Path]:
    """Write ``data`` as a MulT / MMIM unaligned pickle plus transcript CSV (what :func:`load_unaligned` reads).

    The pickle holds audio / vision left-padded to ``audio_len`` / ``vision_len`` (default: the
    longest L of the splits), ``labels`` (N, 1, 1) float32, ``id`` (N, 1) object array of
    ``b"<video_id>_<clip_id>"`` and ``text`` (N, L_t, d_t) left-padded word vectors: the data's
    ``text_features`` when it has them, else a cheap GloVe stand-in (a fixed random 300-d vector
    per lower-cased word), with L_t the most words of any sample. The CSV has columns
    ``video_id, clip_id, text, label, mode`` (mode = split name) in shuffled row order, so
    readers must match rows by id.

    Args:
        data: the dataset; every split needs raw ``text``.
        out_dir: folder to write into (created if missing).
        pickle_name, csv_name: file names.
        audio_len, vision_len: padded lengths, at least the longest true length.

    Returns:
        (pickle path, CSV path).

    Raises:
        ValueError: a split without raw text; ``audio_len`` / ``vision_len`` shorter than a
            true length; an id not of the form ``"<video_id>_<clip_id>"``.
    """
    splits = data.splits()
    for split in splits.values():
        if split.text is None:
            raise ValueError(f"write_unaligned: split {split.name!r} of {data.name!r} has no raw text for the CSV.")
    padded = {}
    for key, given in (("audio", audio_len), ("vision", vision_len)):
        longest = max(int(getattr(s, f"{key}_lengths").max(initial=1)) for s in splits.values())
        if given is not None and given < longest:
            raise ValueError(f"write_unaligned: {key}_len={given} is shorter than the longest {key} sequence ({longest}).")
        padded[key] = given if given is not None else max(getattr(s, key).shape[1] for s in splits.values())
    text_rows = {name: _text_rows(split) for name, split in splits.items()}
    text_len = max([1] + [len(row) for rows, _ in text_rows.values() for row in rows])
    content, table = {}, []
    for name, split in splits.items():
        rows, dim = text_rows[name]
        words, word_lengths, _ = pack_valid_first(rows, len(split), text_len, dim)
        ids = np.empty((len(split), 1), dtype=object)
        ids[:, 0] = [i.encode("utf-8") for i in split.ids]
        content[name] = {
            "text": left_pad(words, word_lengths, text_len),
            "audio": left_pad(split.audio, split.audio_lengths, padded["audio"]),
            "vision": left_pad(split.vision, split.vision_lengths, padded["vision"]),
            "labels": split.labels.reshape(-1, 1, 1).astype(np.float32),
            "id": ids,
        }
        for utterance, text, label in zip(split.ids, split.text, split.labels):
            table.append((*split_id(utterance, f"write_unaligned({data.name!r})"), text, float(label), name))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pickle_path, csv_path = out / pickle_name, out / csv_name
    with pickle_path.open("wb") as f:
        pickle.dump(content, f, protocol=pickle.HIGHEST_PROTOCOL)
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", "clip_id", "text", "label", "mode"])
        writer.writerows(table[i] for i in np.random.default_rng(0).permutation(len(table)))
    return pickle_path, csv_path
