"""The in-memory form of a sentiment dataset, and the sequence-layout helpers the loaders share.

Every loader returns a :class:`SentimentData` of three :class:`SentimentSplit`. A sequence
modality is an array (N, L, d) float32 in **valid-first** layout: row i holds its
``lengths[i]`` real frames at positions ``0 .. lengths[i] - 1`` and zeros after, with
``1 <= lengths[i] <= L``. Labels are sentiment scores in [-3, 3].
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["LABEL_BOUND", "SPLIT_NAMES", "NONFINITE_POLICIES", "SentimentData", "SentimentSplit"]

SPLIT_NAMES = ("train", "valid", "test")
LABEL_BOUND = 3.0
NONFINITE_POLICIES = ("raise", "zero")
_SEQUENCES = (("audio", "audio_lengths"), ("vision", "vision_lengths"), ("text_features", "text_lengths"))


def _cast(value: object, dtype: type, kinds: str) -> object:
    """``value`` as a ``dtype`` array when its dtype kind is in ``kinds``; otherwise unchanged, for validate to reject."""
    if value is None:
        return None
    array = np.asarray(value)
    return array.astype(dtype, copy=False) if array.dtype.kind in kinds else array


@dataclass
class SentimentSplit:
    """One split: N utterances with their sentiment score and per-modality sequences.

    Args:
        name: split name ("train", "valid" or "test").
        ids: N utterance ids ``"<video_id>_<clip_id>"``.
        labels: (N,) float32 scores in [-3, 3].
        audio, vision: (N, L_m, d_m) float32 frames, valid first, zeros after.
        audio_lengths, vision_lengths: (N,) int64 true lengths, ``1 <= len <= L_m``.
        text: N raw transcripts, or None.
        text_features: (N, L_t, d_t) float32 word-level features (GloVe, BERT), valid first, or None.
        text_lengths: (N,) int64 true lengths of ``text_features`` (given exactly when they are).
        latents: generating factors of synthetic data, each (N,); empty for real data.

    Float arrays of another float or integer dtype are cast to float32 and integer lengths to
    int64 on construction; then :meth:`validate` runs.

    Raises:
        ValueError: from :meth:`validate`.
    """

    name: str
    ids: list[str]
    labels: np.ndarray
    audio: np.ndarray
    audio_lengths: np.ndarray
    vision: np.ndarray
    vision_lengths: np.ndarray
    text: list[str] | None = None
    text_features: np.ndarray | None = None
    text_lengths: np.ndarray | None = None
    latents: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = list(self.ids)
        self.text = None if self.text is None else list(self.text)
        self.labels = _cast(self.labels, np.float32, "iuf")
        for frames, lengths in _SEQUENCES:
            setattr(self, frames, _cast(getattr(self, frames), np.float32, "iuf"))
            setattr(self, lengths, _cast(getattr(self, lengths), np.int64, "iu"))
        self.validate()

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, indices: Sequence[int] | np.ndarray) -> SentimentSplit:
        """The rows ``indices`` (integers, in that order, or a boolean mask of length N) of every field.

        Raises:
            ValueError: indices not a 1-D integer or boolean array.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.int64)  # np.asarray([]) is float64
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"subset indices must be a 1-D integer or boolean array; got dtype {idx.dtype}, shape {idx.shape}.")

        def take(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[idx]

        return SentimentSplit(
            name=self.name,
            ids=[self.ids[i] for i in idx],
            labels=self.labels[idx],
            audio=self.audio[idx],
            audio_lengths=self.audio_lengths[idx],
            vision=self.vision[idx],
            vision_lengths=self.vision_lengths[idx],
            text=None if self.text is None else [self.text[i] for i in idx],
            text_features=take(self.text_features),
            text_lengths=take(self.text_lengths),
            latents={key: value[idx] for key, value in self.latents.items()},
        )

    def validate(self) -> None:
        """Check shapes, dtypes, lengths, zero padding and label range.

        Raises:
            ValueError: naming the first inconsistent field.
        """
        n = len(self.ids)
        where = f"SentimentSplit {self.name!r}"
        if not all(isinstance(i, str) for i in self.ids):
            raise ValueError(f"{where}: ids must all be str.")
        if not (isinstance(self.labels, np.ndarray) and self.labels.dtype == np.float32 and self.labels.shape == (n,)):
            raise ValueError(f"{where}: labels must be a float32 array of shape ({n},); got {_describe(self.labels)}.")
        if not np.all(np.abs(self.labels) <= LABEL_BOUND):  # also rejects NaN
            low, high = self.labels.min(), self.labels.max()
            raise ValueError(f"{where}: labels must be finite and in [-3, 3]; got range [{low}, {high}].")
        for frames, lengths in _SEQUENCES:
            _check_sequence(where, frames, getattr(self, frames), lengths, getattr(self, lengths), n)
        if self.text is None and self.text_features is None:
            raise ValueError(f"{where}: needs text or text_features; both are None.")
        if self.text is not None and (len(self.text) != n or not all(isinstance(t, str) for t in self.text)):
            raise ValueError(f"{where}: text must be {n} str; got {len(self.text)} items.")
        for key, value in self.latents.items():
            if np.shape(value) != (n,):
                raise ValueError(f"{where}: latents[{key!r}] must have shape ({n},); got {np.shape(value)}.")


def _describe(value: object) -> str:
    return f"{type(value).__name__} {getattr(value, 'dtype', '')} {np.shape(value)}"


def _check_sequence(where: str, name: str, frames: object, lengths_name: str, lengths: object, n: int) -> None:
    """Validate one (frames, lengths) pair of a split; text_features may be absent together with its lengths."""
    if frames is None or lengths is None:
        if name == "text_features" and frames is None and lengths is None:
            return
        raise ValueError(f"{where}: {name} and {lengths_name} must be given together.")
    if not (isinstance(frames, np.ndarray) and frames.dtype == np.float32 and frames.ndim == 3 and frames.shape[0] == n):
        raise ValueError(f"{where}: {name} must be a float32 array of shape ({n}, L, d); got {_describe(frames)}.")
    if not (isinstance(lengths, np.ndarray) and lengths.dtype == np.int64 and lengths.shape == (n,)):
        raise ValueError(f"{where}: {lengths_name} must be an int64 array of shape ({n},); got {_describe(lengths)}.")
    if n and not (lengths.min() >= 1 and lengths.max() <= frames.shape[1]):
        raise ValueError(f"{where}: {lengths_name} must be in [1, {frames.shape[1]}]; got [{lengths.min()}, {lengths.max()}].")
    if not np.isfinite(frames).all():
        raise ValueError(f"{where}: {name} holds non-finite values.")
    padding = np.arange(frames.shape[1])[None, :] >= lengths[:, None]
    if np.any(frames[padding] != 0):
        raise ValueError(f"{where}: {name} must be zero after {lengths_name} (valid frames first).")


@dataclass
class SentimentData:
    """A dataset: three splits with the same feature widths and the same text fields.

    Raises:
        ValueError: feature widths or the presence of text / text_features differ across splits.
    """

    train: SentimentSplit
    valid: SentimentSplit
    test: SentimentSplit
    name: str

    def __post_init__(self) -> None:
        splits = self.splits().values()
        for frames in ("audio", "vision", "text_features"):
            widths = {None if getattr(s, frames) is None else getattr(s, frames).shape[2] for s in splits}
            if len(widths) > 1:
                raise ValueError(f"SentimentData {self.name!r}: {frames} widths differ across splits: {sorted(widths, key=str)}.")
        if len({s.text is None for s in splits}) > 1:
            raise ValueError(f"SentimentData {self.name!r}: text is given for some splits only.")

    def splits(self) -> dict[str, SentimentSplit]:
        """``{"train": ..., "valid": ..., "test": ...}`` in that order."""
        return {"train": self.train, "valid": self.valid, "test": self.test}


def pack_valid_first(rows: Iterable[np.ndarray], n: int, out_len: int, dim: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Stack per-sample frames into the valid-first layout.

    Args:
        rows: n arrays (n_i, dim) of real frames; loaders pass n_i >= 1 (a writer's empty transcript gives length 0).
        n: number of rows.
        out_len: L of the result; rows longer than it keep their LAST ``out_len`` frames
            (the end of an utterance, as left-padded files keep it).
        dim: frame width d.

    Returns:
        frames (n, out_len, dim) float32, lengths (n,) int64, number of cropped rows.
    """
    frames = np.zeros((n, out_len, dim), dtype=np.float32)
    lengths = np.empty(n, dtype=np.int64)
    cropped = 0
    for i, row in enumerate(rows):
        cropped += len(row) > out_len
        kept = row[-out_len:]
        frames[i, : len(kept)] = kept
        lengths[i] = len(kept)
    return frames, lengths, cropped


def left_pad(frames: np.ndarray, lengths: np.ndarray, out_len: int) -> np.ndarray:
    """Valid-first (N, L, d) -> left-padded (N, out_len, d): zeros first, then the ``lengths[i]`` real frames.

    Requires ``out_len >= lengths.max()`` (the caller checks and names its argument).
    """
    out = np.zeros((frames.shape[0], out_len, frames.shape[2]), dtype=np.float32)
    for i, k in enumerate(lengths):
        out[i, out_len - k :] = frames[i, :k]
    return out


def fix_nonfinite(array: np.ndarray, policy: str, where: str, key: str, replaced: dict[str, int]) -> np.ndarray:
    """Apply the non-finite policy to a float array.

    Args:
        array: float array (not modified).
        policy: "raise" or "zero" (replace by 0, adding their count to ``replaced[key]``).
        where: the file and the place in it, for the error message.
        key: the split and modality the count is reported under (e.g. "train audio").
        replaced: counts of replaced values, updated in place.

    Returns:
        ``array`` itself when all finite, else a copy with zeros in place of inf / NaN.

    Raises:
        ValueError: non-finite values under "raise".
    """
    bad = ~np.isfinite(array)
    if not bad.any():
        return array
    if policy == "raise":
        raise ValueError(f"{where} holds {int(bad.sum())} non-finite value(s); pass nonfinite='zero' to replace them by 0.")
    replaced[key] = replaced.get(key, 0) + int(bad.sum())
    return np.where(bad, np.float32(0), array)


def check_loader_options(max_len: int | None, nonfinite: str) -> None:
    """Raises ValueError for a ``max_len`` that is not None or an int >= 1, or an unknown ``nonfinite``."""
    if max_len is not None and (isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1):
        raise ValueError(f"max_len must be None or an int >= 1; got {max_len!r}.")
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"nonfinite must be one of {NONFINITE_POLICIES}; got {nonfinite!r}.")


def warn_changes(source: str, max_len: int | None, cropped: dict[str, int], replaced: dict[str, int]) -> None:
    """One warning listing the sequences cropped to ``max_len`` and the non-finite values zeroed, if any."""
    parts = [f"cropped to their last max_len={max_len} frames: " + ", ".join(f"{k} {v}" for k, v in cropped.items() if v)]
    parts = parts if any(cropped.values()) else []
    if replaced:
        parts.append("non-finite values set to 0: " + ", ".join(f"{k} {v}" for k, v in replaced.items()))
    if parts:
        warnings.warn(f"{source}: " + "; ".join(parts) + ".", stacklevel=3)
