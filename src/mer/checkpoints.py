"""Checkpoints: a model's weights and the JSON-able settings that rebuild it.

File layout (``torch.save`` of a dict, readable with ``torch.load(weights_only=True)``):
``{"meta": {"format", "model_name", "input_dim", "model_options", "extra"}, "state_dict"}``.
Weights are always stored on the CPU, so a checkpoint written on a GPU machine loads on a
CPU-only one (and ``load_checkpoint`` maps every tensor to the device asked for).
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any

import torch
from torch import nn

from mer.devices import resolve_device
from mer.errors import ConfigError, DataError
from mer.io import atomic_path

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, model_name: str,
                    input_dim: int, model_options: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> None:
    """Write weights and the JSON-able settings that rebuild the model, atomically.

    ``extra`` is free metadata (training config, fold, feature set, history...); it must
    survive ``json.dumps`` so that ``torch.load(weights_only=True)`` can read it back.
    """
    meta = {"format": CHECKPOINT_FORMAT, "model_name": model_name, "input_dim": input_dim,
            "model_options": dict(model_options or {}), "extra": dict(extra or {})}
    try:
        meta = json.loads(json.dumps(meta, allow_nan=True))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"checkpoint metadata must be JSON-able: {error}") from error
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"meta": meta, "state_dict": state}, tmp)


def load_checkpoint(path: str | os.PathLike, *, device: str = "cpu"
                    ) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint (evaluation mode) and return it with its meta."""
    from mer.models import build_model

    try:
        payload = torch.load(path, map_location=resolve_device(device), weights_only=True)
        meta, state = payload["meta"], payload["state_dict"]
    except (OSError, RuntimeError, KeyError, IndexError, TypeError,
            pickle.UnpicklingError) as error:
        raise DataError(f"cannot read checkpoint {path} (not a mer checkpoint, or written "
                        f"by an incompatible version): {error}") from error
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"checkpoint {path} has format {meta.get('format')!r}, "
                        f"this version reads {CHECKPOINT_FORMAT}")
    model = build_model(meta["model_name"], meta["input_dim"], **meta["model_options"])
    model.load_state_dict(state)
    model.to(resolve_device(device)).eval()
    return model, meta
