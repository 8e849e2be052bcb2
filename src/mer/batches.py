"""Training and prediction data as tensors: checks, padding, minibatches (``mer.training``).

Conventions in ``mer.training``'s module docstring: ``x`` (n_songs, T, n_features) or one
(length_i, n_features) array per song, ``y`` (n_songs, T), ``lengths`` (n_songs,) real
frames of songs padded at the end. Tensors stay on the CPU until ``minibatch`` moves one
batch to the training device.
"""

from __future__ import annotations

import numpy as np
import torch

from mer.errors import DataError
from mer.frames import checked_lengths


def as_lengths(lengths, n_songs: int, n_frames: int, what: str) -> np.ndarray | None:
    """Validated lengths as int64, or None when every song fills all ``n_frames``."""
    try:
        return checked_lengths(lengths, n_songs, n_frames)
    except ValueError as error:
        raise DataError(f"{what} {error}") from None


def as_song_tensors(x: list, y, what: str):
    """Songs given one by one, (length_i, n_features) each: per-song tensors, so nothing is
    padded until a minibatch is built (DEAM's few long songs would otherwise make every
    song as long as the longest). Songs of one length are stacked as before. ``y``: one
    (length_i,) array per song, or an (n_songs, T >= longest) array cropped per song."""
    songs = [np.asarray(song) for song in x]
    if not songs or any(song.ndim != 2 or len(song) == 0 for song in songs):
        raise DataError(f"{what} features must be non-empty (length_i, n_features) arrays, one "
                        f"per song; got shapes {[song.shape for song in songs][:5]}")
    if len({song.shape[1] for song in songs}) > 1:
        raise DataError(f"{what} songs have different numbers of features: "
                        f"{sorted({song.shape[1] for song in songs})}")
    lengths = np.array([len(song) for song in songs], dtype=np.int64)
    targets = None if y is None else [np.asarray(row)[:n] for row, n in zip(y, lengths)]
    if targets is not None and (len(targets) != len(songs) or
                                any(t.shape != (n,) for t, n in zip(targets, lengths))):
        raise DataError(f"{what} targets must give each song one value per frame "
                        f"(lengths {lengths[:5].tolist()}...)")
    if (lengths == lengths[0]).all():
        return as_tensors(np.stack(songs), None if targets is None else np.stack(targets), what)
    for row, song in enumerate(songs):
        if not np.isfinite(song).all():
            raise DataError(f"{what} features of song {row} (row index) contain NaN or "
                            f"infinite values")
        if targets is not None and not np.isfinite(targets[row]).all():
            raise DataError(f"{what} targets of song {row} (row index) contain NaN or "
                            f"infinite values")
    x_songs = [torch.as_tensor(song, dtype=torch.float32) for song in songs]
    y_songs = None if targets is None else [torch.as_tensor(t, dtype=torch.float32) for t in targets]
    return x_songs, y_songs, torch.as_tensor(lengths)


def n_features(x) -> int:
    return int(x[0].shape[-1]) if isinstance(x, list) else int(x.shape[2])


def as_tensors(x: np.ndarray, y: np.ndarray | None, what: str, lengths=None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Checked tensors ``x``, ``y`` and ``lengths`` (None when every frame is real).

    With lengths only the real frames must be finite; padded targets become 0 (features
    are left as they are: the models zero their padding themselves).
    """
    if isinstance(x, (list, tuple)):
        if lengths is not None:
            raise DataError(f"{what}: songs given one by one carry their own lengths; "
                            f"do not pass lengths too")
        return as_song_tensors(list(x), y, what)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0:
        raise DataError(f"{what} features must be (n_songs > 0, T, n_features), "
                        f"got shape {x.shape}")
    lengths = as_lengths(lengths, x.shape[0], x.shape[1], what)
    if lengths is None:
        if not np.isfinite(x).all():
            raise DataError(f"{what} features contain NaN or infinite values (if those are "
                            f"padded frames, pass the songs' lengths)")
    else:
        for song, length in enumerate(lengths):  # one song at a time: no full-size copy
            if not np.isfinite(x[song, :length]).all():
                raise DataError(f"{what} features of song {song} (row index) contain NaN or "
                                f"infinite values in its {length} real frames")
    x_tensor = torch.as_tensor(x, dtype=torch.float32)
    lengths_tensor = None if lengths is None else torch.as_tensor(lengths)
    if y is None:
        return x_tensor, None, lengths_tensor
    y = np.asarray(y)
    if y.shape != x.shape[:2]:
        raise DataError(f"{what} targets have shape {y.shape}, expected {x.shape[:2]} "
                        f"(n_songs, T) to match the features")
    if lengths is None:
        if not np.isfinite(y).all():
            raise DataError(f"{what} targets contain NaN or infinite values (if those are "
                            f"padded frames, pass the songs' lengths)")
        return x_tensor, torch.as_tensor(y, dtype=torch.float32), None
    real = np.arange(y.shape[1]) < lengths[:, None]
    bad = ~np.isfinite(np.where(real, y, 0.0)).all(axis=1)
    if bad.any():
        raise DataError(f"{what} targets contain NaN or infinite values in real frames "
                        f"(within lengths), e.g. in song {int(np.argmax(bad))} (row index)")
    y_tensor = torch.as_tensor(np.where(real, y, 0.0), dtype=torch.float32)
    return x_tensor, y_tensor, lengths_tensor


def crop_to_longest(x: torch.Tensor, y: torch.Tensor | None, lengths: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Drop the frames beyond the longest song; lengths None if then every frame is real."""
    if lengths is None or isinstance(x, list):
        return x, y, lengths
    n_frames = int(lengths.max())
    if n_frames < x.shape[1]:
        x = x[:, :n_frames].contiguous()
        y = None if y is None else y[:, :n_frames].contiguous()
    return x, y, None if bool((lengths == n_frames).all()) else lengths


def minibatch(x: torch.Tensor, y: torch.Tensor | None, lengths: torch.Tensor,
               index: torch.Tensor, device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Songs ``index`` cropped to their longest one, on ``device``; lengths None when all
    are that long (the model then runs its unpadded code)."""
    batch_lengths = lengths[index]
    n_frames = int(batch_lengths.max())
    if isinstance(x, list):  # songs one by one: padded here, to this batch's longest
        from torch.nn.utils.rnn import pad_sequence
        rows = index.tolist()
        xb = pad_sequence([x[i] for i in rows], batch_first=True).to(device)
        yb = None if y is None else pad_sequence([y[i] for i in rows], batch_first=True).to(device)
    else:
        xb = x[index, :n_frames].to(device)
        yb = None if y is None else y[index, :n_frames].to(device)
    if bool((batch_lengths == n_frames).all()):
        return xb, yb, None
    return xb, yb, batch_lengths.to(device)


def real_frames(lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
    return torch.arange(n_frames, device=lengths.device) < lengths.unsqueeze(1)
