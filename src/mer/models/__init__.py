"""Model families, registered by name; the one place a name like ``AT_2048_1024`` is parsed.

A model name is ``<FAMILY>_<n>[_<n>...]`` with positive integers ``n``: for the LSTM-based
families they are the hidden sizes of the stacked LSTM layers (first layer first); for
``TRANSFORMER`` a single number, the count of encoder layers. The baselines (``MEAN``,
``RIDGE``, ``RIDGE_SONG``; ``mer.models.baselines``) are size-less: the name is the family
alone. Adding a family is one entry in ``MODEL_FAMILIES``; ``baseline=True`` marks a family
fitted in closed form (``mer.models.baselines.fit_baseline``) instead of by ``mer.training``.

Every model is a plain ``nn.Module`` with
``forward(x (B, T, input_dim), y_prev_true=None, lengths=None) -> (prediction (B, T),
attention)``, attention being (B, T, T) (row t = weights of frame t over all frames) or
``None``. ``lengths`` (B,) gives the real frames of songs padded at the end (convention in
``mer.models.lstm``; each family's masking in its module docstring). Training loops live
in ``mer.training``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mer.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

# The registry (names, parsing, is_baseline) is imported by the Snakefile and by every report
# job; torch costs ~2 CPU-s to import (benchmarks/jobs.py), so the model classes are imported
# on first use: `family.builder`, `build_model`, or `from mer.models import LSTMRegressor`.
_LAZY = {"AttentionRegressor": "mer.models.attention", "reference_attention": "mer.models.attention",
         "MeanBaseline": "mer.models.baselines", "RidgeFrameBaseline": "mer.models.baselines",
         "RidgeSongBaseline": "mer.models.baselines", "LSTMRegressor": "mer.models.lstm",
         "StackedLSTM": "mer.models.lstm", "real_frames": "mer.models.lstm",
         "TransformerRegressor": "mer.models.transformer"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["MODEL_FAMILIES", "ModelFamily", "ModelSpec", "build_model", "describe_model",
           "has_attention", "is_baseline", "parse_model_name", "count_parameters", "real_frames",
           "reference_attention", "AttentionRegressor", "LSTMRegressor", "StackedLSTM",
           "TransformerRegressor"]


@dataclass(frozen=True)
class ModelSpec:
    family: str
    sizes: tuple[int, ...]

    @property
    def name(self) -> str:
        return "_".join([self.family, *map(str, self.sizes)])


@dataclass(frozen=True)
class ModelFamily:
    """``builder(input_dim, sizes_argument, **fixed, **options)`` builds the module
    (``builder(input_dim, **fixed, **options)`` for a size-less family); ``builder_name`` is
    its name in this package (imported on first use of ``builder``)."""

    builder_name: str
    description: str
    form: str                      # how a name of this family is written, for errors
    attention: bool                # whether the model exports attention weights
    single_size: bool = False      # sizes is one number passed as an int (layer count)
    fixed: dict[str, Any] = field(default_factory=dict)
    sizeless: bool = False         # the name is the family alone (no _<n>)
    baseline: bool = False         # fitted in closed form (mer.models.baselines), not trained

    @property
    def builder(self) -> Callable[..., nn.Module]:
        return __getattr__(self.builder_name)


MODEL_FAMILIES: dict[str, ModelFamily] = {
    "LSTM": ModelFamily(
        "LSTMRegressor", "stacked LSTM, linear output per frame",
        "LSTM_<h1>[_<h2>...] (hidden sizes, e.g. LSTM_400, LSTM_700_128)", attention=False),
    "AT": ModelFamily(
        "AttentionRegressor",
        "stacked LSTM encoder, additive attention over all frames, linear output with "
        "feedback of y_{t-1}",
        "AT_<h1>[_<h2>...] (e.g. AT_300, AT_2048_1024)", attention=True,
        fixed={"causal": False}),
    "BAT": ModelFamily(
        "AttentionRegressor",
        "stacked LSTM encoder, additive attention over earlier frames only, linear output "
        "with feedback of y_{t-1}",
        "BAT_<h1>[_<h2>...] (e.g. BAT_1024, BAT_2048_1024)", attention=True,
        fixed={"causal": True}),
    "TRANSFORMER": ModelFamily(
        "TransformerRegressor",
        "linear projection + sinusoidal positions, Transformer encoder, linear output",
        "TRANSFORMER_<layers> (e.g. TRANSFORMER_1, TRANSFORMER_2, TRANSFORMER_4)",
        attention=True, single_size=True),
    "MEAN": ModelFamily(
        "MeanBaseline", "baseline: the fitting songs' mean annotation for every frame",
        "MEAN (no size)", attention=False, sizeless=True, baseline=True),
    "RIDGE": ModelFamily(
        "RidgeFrameBaseline", "baseline: ridge regression per frame on the standardised "
        "features (penalty chosen on the validation songs)",
        "RIDGE (no size)", attention=False, sizeless=True, baseline=True),
    "RIDGE_SONG": ModelFamily(
        "RidgeSongBaseline", "baseline: ridge regression on each song's mean feature vector, "
        "one level for all frames of the song (penalty chosen on the validation songs)",
        "RIDGE_SONG (no size)", attention=False, sizeless=True, baseline=True),
}

_NAME = re.compile(r"([A-Z]+)((?:_[1-9][0-9]*)+)")


def _invalid(name: str, reason: str) -> ConfigError:
    forms = "\n".join(f"  {family.form}" for family in MODEL_FAMILIES.values())
    return ConfigError(f"invalid model name {name!r}: {reason}; valid forms:\n{forms}")


def parse_model_name(name: str) -> ModelSpec:
    """``"AT_2048_1024"`` -> ``ModelSpec("AT", (2048, 1024))``; ConfigError if malformed."""
    if not isinstance(name, str):
        raise _invalid(str(name), "not a string")
    if name in MODEL_FAMILIES and MODEL_FAMILIES[name].sizeless:
        return ModelSpec(name, ())
    for family_name, family in MODEL_FAMILIES.items():  # e.g. MEAN_3: a size-less family
        if family.sizeless and re.fullmatch(re.escape(family_name) + r"(_[0-9]+)+", name):
            raise _invalid(name, f"{family_name} takes no size; write {family_name!r}")
    match = _NAME.fullmatch(name)
    if match is None:
        hint = ""
        normalised = name.upper().replace("-", "_")
        if _NAME.fullmatch(normalised) or normalised in MODEL_FAMILIES:
            hint = f" (did you mean {normalised!r}?)"
        raise _invalid(name, "expected FAMILY_<positive integer>[_<positive integer>...] "
                       "or a baseline's name" + hint)
    family, sizes_text = match.groups()
    if family not in MODEL_FAMILIES:
        raise _invalid(name, f"unknown family {family!r}")
    if MODEL_FAMILIES[family].sizeless:
        raise _invalid(name, f"{family} takes no size; write {family!r}")
    sizes = tuple(int(part) for part in sizes_text[1:].split("_"))
    if MODEL_FAMILIES[family].single_size and len(sizes) != 1:
        raise _invalid(name, f"{family} takes exactly one number")
    return ModelSpec(family, sizes)


def has_attention(name: str) -> bool:
    """Whether ``predict`` returns attention weights for this model."""
    return MODEL_FAMILIES[parse_model_name(name).family].attention


def is_baseline(name: str) -> bool:
    """Whether ``name`` is a baseline fitted in closed form (``MEAN``, ``RIDGE``,
    ``RIDGE_SONG``); ConfigError if it is no valid model name."""
    return MODEL_FAMILIES[parse_model_name(name).family].baseline


def build_model(name: str, input_dim: int, **options: Any) -> nn.Module:
    """Build the (randomly initialised) model ``name`` for ``input_dim`` features.

    ``options`` are the family's keyword arguments (e.g. ``attention_dim`` for AT/BAT;
    ``d_model``, ``heads``, ``ff_dim``, ``dropout`` for TRANSFORMER). Seed first
    (``mer.runtime.seed_everything``) for a reproducible initialisation.
    """
    spec = parse_model_name(name)
    family = MODEL_FAMILIES[spec.family]
    if not isinstance(input_dim, int) or isinstance(input_dim, bool) or input_dim < 1:
        raise ConfigError(f"input_dim must be a positive integer, got {input_dim!r}")
    parameters = inspect.signature(family.builder).parameters
    positional = 1 if family.sizeless else 2
    allowed = [p for p in list(parameters)[positional:] if p not in family.fixed]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown option(s) {unknown} for model {name}; "
                          f"{spec.family} accepts {allowed or 'no options'}")
    if family.sizeless:
        return family.builder(input_dim, **family.fixed, **options)
    sizes = spec.sizes[0] if family.single_size else spec.sizes
    return family.builder(input_dim, sizes, **family.fixed, **options)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def describe_model(name: str, input_dim: int, **options: Any) -> str:
    """One summary line, the module tree, and the count of trainable parameters."""
    spec = parse_model_name(name)
    model = build_model(name, input_dim, **options)
    count = ("coefficients (fitted in closed form)" if MODEL_FAMILIES[spec.family].baseline
             else "trainable parameters")
    return (f"{spec.name} ({input_dim} inputs): {MODEL_FAMILIES[spec.family].description}\n"
            f"{model}\n{count}: {count_parameters(model):,}")
