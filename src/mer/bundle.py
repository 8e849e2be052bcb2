"""Model bundles: the selected model of a target, exported for ``mer predict``.

A bundle is a folder ``models/{dataset}/{target}/{feature_set}/{model}/`` holding

* ``model.pt``: weights, model name, input size and model options, the feature set, its
  ``feature_version`` and compare mode, and the per-dimension normalisation statistics
  (``feature_mean``, ``feature_std``). Everything but the tensors is plain JSON, so the
  file loads with ``torch.load(weights_only=True)`` (``mer.training.load_checkpoint``).
* ``card.json``: a human-readable card: dataset, target, feature set, selection rule and
  every candidate's mean CV R², the selected model's CV metrics (mean, std, per fold), how
  the final model was trained, code version (``mer.__version__`` + git commit) and a hash
  of the parameters it depends on.

Selection: among the trained models of one target and feature set, the highest mean R²
over folds (ties: lower MAE, then name; ``mer.reports.tables.select_best``, the rule the
tables use).

Final model (the choice the paper leaves open): the selected model is **retrained on all
songs** of the dataset, with the feature standardisation fitted on all of them, for a fixed
number of epochs = the median over folds of the epoch early stopping restored (rounded
half up, at least 1), without early stopping (there is no held-out song left to stop on).
Its CV metrics are therefore those of the same architecture and training recipe, not of
these exact weights; the card says so. The seed is ``params.seed``. A baseline
(``mer.models.is_baseline``) is refitted in closed form on all songs instead; a ridge
baseline takes the median over folds of the penalty each fold chose on its validation
songs (the lower middle value for an even count, so always a value of the grid).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mer.errors import ConfigError, DataError
from mer.io import write_json_atomic

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.pt"
CARD_FILE = "card.json"
BUNDLE_FORMAT = 1
RETRAIN_RULE = ("retrained on all songs for the median over folds of the early-stopping "
                "epoch, without early stopping; standardisation fitted on all songs")
BASELINE_REFIT_RULE = ("refitted in closed form on all songs (ridge: the median over folds of the "
                       "penalty chosen on each fold's validation songs); standardisation fitted "
                       "on all songs")


# -- versions and hashes ----------------------------------------------------------------

def feature_version(set_name: str, compare_mode: str = "per_segment") -> str:
    """A string that changes whenever the feature values of ``set_name`` would.

    It covers the frame grid, sample rate and hop, the blocks and their column names, and
    the ComParE mode (only for sets that contain ComParE). Library versions are recorded
    in the card but not here: a bundle stays usable across patch releases of librosa.
    """
    from mer.features import BLOCKS, feature_set
    from mer.features.spectra import HOP_LENGTH
    from mer.frames import FRAME_SECONDS, SAMPLE_RATE

    spec = feature_set(set_name)
    columns = hashlib.sha256("\n".join(spec.columns).encode()).hexdigest()[:10]
    parts = [f"{spec.name}", f"{spec.dims}d", f"sr{SAMPLE_RATE}", f"frame{FRAME_SECONDS:g}s",
             f"hop{HOP_LENGTH}", f"cols-{columns}"]
    if any(BLOCKS[b].source == "opensmile" for b in spec.blocks):
        parts.append(f"compare-{compare_mode}")
    return "/".join(parts)


def params_hash(params: dict) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of ``params``."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def code_version() -> dict[str, Any]:
    """``mer.__version__`` and, where the package lives in a git checkout, its commit."""
    import mer

    version: dict[str, Any] = {"mer": mer.__version__, "git_commit": None, "git_dirty": None}
    root = Path(mer.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if commit.returncode == 0:
            version["git_commit"] = commit.stdout.strip()
            status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=root, capture_output=True, text=True, timeout=10)
            version["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass  # no git, or not a checkout: the version number alone identifies the code
    return version


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    versions = {}
    for name in ("torch", "librosa", "opensmile", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


# -- selection and final training ---------------------------------------------------------

def select_model(summary_paths, *, target: str, feature_set: str) -> tuple[dict, list[dict]]:
    """The best ``cv_summary.json`` of ``target`` x ``feature_set`` (best mean CV R² among
    the networks; a baseline only when no network is trained there) and every candidate."""
    from mer.reports.summaries import networks
    from mer.reports.tables import load_summaries, select_best

    summaries = load_summaries(summary_paths)
    if summaries.empty:
        raise DataError("no cv_summary.json given to select a model from; run "
                        "`snakemake --cores 8 train` first")
    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if subset.empty:
        raise ConfigError(f"no trained model for target {target!r} and feature set "
                          f"{feature_set!r}; add a model on {feature_set!r} to an experiment of the selected "
                          f"grid (`grid`, `grids`) and {target!r} to `train.targets` in params.yaml")
    # a network when the grid trains one on this set: a baseline's curve is flat (MEAN,
    # RIDGE_SONG) or frame-local, which is not what `mer predict` is for; the card still
    # lists every candidate, baselines included, with its CV metrics
    trained_networks = networks(subset)
    best = select_best(trained_networks if not trained_networks.empty else subset)
    summary = json.loads(Path(best["summary_path"]).read_text())
    candidates = [{"model": row.model, "r2": float(row.r2), "mae": float(row.mae)}
                  for row in subset.sort_values("model").itertuples(index=False)]
    return summary, candidates


def final_epochs(summary: dict) -> int:
    """Median over folds of the restored (best) epoch, rounded half up, at least 1."""
    epochs = [int(fold["best_epoch"]) for fold in summary.get("folds", []) if "best_epoch" in fold]
    if not epochs:
        raise DataError(f"cv summary of {summary.get('model')!r} lists no per-fold best_epoch; "
                        "re-run training with this version of mer")
    return max(1, math.floor(float(np.median(epochs)) + 0.5))


def final_ridge_alpha(summary: dict) -> float:
    """Median over folds of the ridge penalty chosen on each fold's validation songs (the
    lower of the two middle values for an even count, so a value of the grid)."""
    alphas = sorted(float(fold["ridge_alpha"]) for fold in summary.get("folds", [])
                    if fold.get("ridge_alpha") is not None)
    if not alphas:
        raise DataError(f"cv summary of {summary.get('model')!r} lists no per-fold ridge_alpha; "
                        "re-run training with this version of mer")
    return alphas[(len(alphas) - 1) // 2]


def train_final_model(features, annotations, song_ids, *, target: str, model_name: str,
                      train_config, model_options: dict, epochs: int,
                      ridge_alpha: float | None = None):
    """Fit ``model_name`` on all ``song_ids`` for ``epochs`` epochs (no early stopping); a
    baseline in closed form (``ridge_alpha``: the penalty of a ridge baseline).

    Returns (model in evaluation mode, Standardizer fitted on all songs, history).
    """
    from mer.cv import Standardizer, real_frames_of, songs_data
    from mer.models import build_model, is_baseline, parse_model_name
    from mer.runtime import seed_everything
    from mer.training import fit

    song_ids = np.sort(np.asarray(song_ids, dtype=np.int64))
    x, y, _ = songs_data(features, annotations, target, song_ids)
    scaler = Standardizer.fit(real_frames_of(x))
    config = replace(train_config, max_epochs=int(epochs))
    seed_everything(config.seed)
    model = build_model(model_name, input_dim=len(features.columns), **model_options)
    if is_baseline(model_name):
        from mer.models.baselines import fit_baseline

        log.info("final %s for %s on %s: %d songs, closed form%s", model_name, target,
                 features.feature_set, len(song_ids),
                 "" if ridge_alpha is None else f", alpha {ridge_alpha:g}")
        result = fit_baseline(model, parse_model_name(model_name).family, scaler.transform(x), y,
                              alphas=None if ridge_alpha is None else [ridge_alpha])
        history = [{"epoch": 1, "train_loss": result.train_loss, "val_loss": math.nan,
                    "improved": True}]
        return model, scaler, history
    log.info("final %s for %s on %s: %d songs, %d epochs", model_name, target,
             features.feature_set, len(song_ids), epochs)
    history = fit(model, scaler.transform(x), y, None, None, config, log=log.info)
    return model, scaler, history


# -- writing and reading bundles ------------------------------------------------------------

def write_bundle(directory, model, *, model_name: str, model_options: dict, target: str,
                 feature_set: str, compare_mode: str, scaler, card: dict) -> Path:
    """Write ``model.pt`` and ``card.json`` into ``directory`` (each atomically)."""
    from mer.training import save_checkpoint

    from mer.features import feature_set as lookup

    directory = Path(directory)
    input_dim = int(len(scaler.mean))
    # a set read from a dataset's files (deam260) is computed from audio by its computed_by set
    predict_set = lookup(feature_set).computed_by or feature_set
    extra = {"bundle_format": BUNDLE_FORMAT, "target": target, "feature_set": feature_set,
             "predict_feature_set": predict_set,
             "predict_feature_version": feature_version(predict_set, compare_mode),
             "feature_version": feature_version(feature_set, compare_mode),
             "compare_mode": compare_mode, "feature_mean": np.asarray(scaler.mean).tolist(),
             "feature_std": np.asarray(scaler.std).tolist(), "dataset": card.get("dataset", "")}
    save_checkpoint(directory / WEIGHTS_FILE, model, model_name=model_name, input_dim=input_dim,
                    model_options=model_options, extra=extra)
    card = {"bundle_format": BUNDLE_FORMAT, **card, "target": target,
            "feature_set": feature_set, "feature_version": extra["feature_version"],
            "predict_feature_set": predict_set, "compare_mode": compare_mode,
            "model": {"name": model_name, "input_dim": input_dim, "options": model_options}}
    write_json_atomic(card, directory / CARD_FILE)
    return directory


def export_model(summary_paths, *, features, annotations, song_ids, dataset: str,
                 target: str, feature_set: str, compare_mode: str, train_config,
                 model_options_by_name: dict, params: dict, out_root) -> Path:
    """Select the best model of ``target`` x ``feature_set``, retrain it on all songs and
    write its bundle to ``out_root/{model}/``; return that folder.

    ``params`` are the parameters the bundle depends on; the card holds their hash.
    """
    if features.feature_set != feature_set:
        raise DataError(f"feature table holds {features.feature_set!r}, the export asks for "
                        f"{feature_set!r}")
    from mer.features import feature_set as lookup
    predict_set = lookup(feature_set).computed_by
    if predict_set and list(features.columns) != list(lookup(predict_set).columns):
        raise DataError(f"the {feature_set} columns of this dataset's files differ from those "
                        f"{predict_set} computes from audio, so a model trained on them cannot "
                        f"predict new songs; export a set computed from audio instead")
    summary, candidates = select_model(summary_paths, target=target, feature_set=feature_set)
    model_name = summary["model"]
    if model_name not in model_options_by_name:
        raise ConfigError(f"selected model {model_name!r} is not in the selected grid "
                          f"({', '.join(model_options_by_name)})")
    options = dict(model_options_by_name[model_name] or {})
    epochs = final_epochs(summary)
    from mer.models import MODEL_FAMILIES, parse_model_name
    family = parse_model_name(model_name).family
    baseline = MODEL_FAMILIES[family].baseline
    ridge_alpha = final_ridge_alpha(summary) if baseline and family != "MEAN" else None
    model, scaler, history = train_final_model(
        features, annotations, song_ids, target=target, model_name=model_name,
        train_config=train_config, model_options=options, epochs=epochs, ridge_alpha=ridge_alpha)
    cv = {key: summary[key] for key in ("r2", "r2_std", "tau", "tau_std", "mae", "mae_std")}
    card = {
        "dataset": dataset,
        "selection": {"rule": "highest mean R2 over folds (ties: lower MAE, then name)",
                      "candidates": candidates},
        "cv": {"n_folds": int(summary["n_folds"]), **cv,
               "note": "metrics of this architecture and recipe under cross-validation; "
                       "the exported weights are the final model below",
               "folds": [{k: fold[k] for k in ("fold", "r2", "tau", "mae", "epochs", "best_epoch")
                          if k in fold} for fold in summary["folds"]]},
        "final_model": {"rule": BASELINE_REFIT_RULE if baseline else RETRAIN_RULE,
                        "epochs": 1 if baseline else epochs, "n_songs": int(len(song_ids)),
                        "seed": int(train_config.seed),
                        "final_train_loss": float(history[-1]["train_loss"]),
                        **({} if ridge_alpha is None else {"ridge_alpha": ridge_alpha})},
        "code_version": {**code_version(), "libraries": _library_versions()},
        "params_hash": params_hash(params),
        "params": params,
    }
    return write_bundle(Path(out_root) / model_name, model, model_name=model_name,
                        model_options=options, target=target, feature_set=feature_set,
                        compare_mode=compare_mode, scaler=scaler, card=card)


@dataclass
class Bundle:
    """A loaded bundle: the model (evaluation mode) and what ``mer predict`` needs."""

    directory: Path
    model: Any
    model_name: str
    target: str
    feature_set: str
    compare_mode: str
    feature_mean: np.ndarray
    feature_std: np.ndarray
    card: dict
    predict_feature_set: str = ""  # the set computed from audio at prediction time

    def __post_init__(self):
        self.predict_feature_set = self.predict_feature_set or self.feature_set

    @property
    def has_attention(self) -> bool:
        from mer.models import has_attention
        return has_attention(self.model_name)

    def normalise(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.feature_mean) / self.feature_std).astype(np.float32)


REEXPORT = ("re-export the bundle with `snakemake --cores 8 export` (or copy the folder again "
            "from where it was exported)")


def _broken(path: Path, what: str) -> DataError:
    """The error for a bundle file that exists but is damaged: the file, what, the fix."""
    return DataError(f"{path}: broken model bundle: {what}; {REEXPORT}")


def read_card(path) -> dict:
    """``card.json`` as a dict ({} when absent); ``DataError`` if it is not a JSON object."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _broken(path, f"not valid JSON ({error})") from None
    if not isinstance(card, dict):
        raise _broken(path, f"expected a JSON object, found a {type(card).__name__}")
    return card


def _read_weights(weights: Path):
    """``load_checkpoint(weights)``, every failure turned into a ``DataError`` naming the file.

    ``torch.load`` on a damaged file raises a zoo of undocumented types (EOFError,
    UnpicklingError, RuntimeError, ValueError, UnicodeDecodeError, OverflowError...), and a
    payload of the wrong shape fails later in ``load_state_dict`` or ``build_model``; the
    file is the user's input here, so every ``Exception`` is caught and named.
    """
    from mer.errors import MerError
    from mer.training import load_checkpoint

    if weights.stat().st_size == 0:
        raise _broken(weights, "the file is empty (0 bytes)")
    try:
        model, meta = load_checkpoint(weights)
    except MerError as error:
        raise _broken(weights, str(error).replace(f"{weights} ", "").replace(f" {weights}", "")) from None
    except EOFError:
        raise _broken(weights, "the file ends too early (cut short while copying?)") from None
    except RuntimeError as error:
        lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
        first = " ".join(lines[:2]) if lines else type(error).__name__
        if "state_dict" in first:
            what = ("its weights do not fit the model its metadata describes (a state dict of "
                    f"other shapes, or a changed input_dim): {first}")
        else:
            what = f"torch cannot read it ({first})"
        raise _broken(weights, what) from None
    except (AttributeError, KeyError, TypeError, IndexError) as error:
        raise _broken(weights, "its metadata is not what mer writes ('meta' must be a mapping "
                               "with format, model_name, input_dim, model_options and extra; "
                               f"{type(error).__name__}: {error})") from None
    except Exception as error:  # noqa: BLE001 (see the docstring)
        raise _broken(weights, f"unreadable ({type(error).__name__}: {error})") from None
    return model, meta


def _checked_statistics(weights: Path, extra: dict, input_dim) -> tuple[np.ndarray, np.ndarray]:
    """The normalisation mean and std as float32 vectors of ``input_dim``, finite, std > 0."""
    try:
        mean = np.asarray(extra["feature_mean"], dtype=np.float32)
        std = np.asarray(extra["feature_std"], dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise _broken(weights, f"its normalisation statistics are not lists of numbers ({error})") from None
    if mean.shape != (input_dim,) or std.shape != mean.shape:
        raise _broken(weights, f"normalisation statistics have shapes {mean.shape} and "
                               f"{std.shape}, the model takes {input_dim} dims")
    for name, values in (("feature_mean", mean), ("feature_std", std)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise _broken(weights, f"{name} holds {bad.size} NaN or infinite value(s) (first at "
                                   f"dims {bad[:5].tolist()}), so every song would come out NaN")
    bad = np.flatnonzero(std <= 0)
    if bad.size:
        raise _broken(weights, f"feature_std holds {bad.size} value(s) <= 0 (first at dims "
                               f"{bad[:5].tolist()}); standardisation would divide by them")
    return mean, std


def load_bundle(directory, *, feature_set: str | None = None, target: str | None = None) -> Bundle:
    """Load the bundle in ``directory`` (``weights_only=True``).

    ``DataError`` if it is not a bundle, if a file of it is damaged (empty or cut-short
    ``model.pt``, metadata that is not a mapping, weights of other shapes than the model,
    normalisation statistics that are not finite, a ``card.json`` that is not a JSON
    object: each names the file, what is wrong, and says to re-export), if its features
    were computed by a different feature version than this mer computes, if its feature
    set differs from the requested ``feature_set`` or its target from ``target``.
    """
    from mer.features import FEATURE_SETS

    directory = Path(directory)
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise DataError(f"{directory}: not a model bundle (no {WEIGHTS_FILE}); export one with "
                        "`snakemake --cores 8 export`")
    card = read_card(directory / CARD_FILE)
    model, meta = _read_weights(weights)
    extra = meta.get("extra", {})
    if not isinstance(extra, dict):
        raise _broken(weights, f"'extra' metadata is a {type(extra).__name__}, not a mapping")
    missing = [k for k in ("feature_set", "feature_version", "feature_mean", "feature_std", "target")
               if k not in extra]
    if missing:
        raise DataError(f"{weights}: a checkpoint but not a bundle (lacks {', '.join(missing)}); "
                        "export one with `snakemake --cores 8 export`")
    bundle_set, mode = extra["feature_set"], extra.get("compare_mode", "per_segment")
    if not isinstance(bundle_set, str) or bundle_set not in FEATURE_SETS:
        raise _broken(weights, f"feature set {bundle_set!r} is not one this mer knows "
                               f"({', '.join(FEATURE_SETS)})")
    if mode not in ("per_segment", "one_pass"):
        raise _broken(weights, f"compare_mode {mode!r} is not per_segment or one_pass")
    if not isinstance(extra["target"], str):
        raise _broken(weights, f"target {extra['target']!r} is not a name")
    if feature_set is not None and bundle_set != feature_set:
        raise DataError(f"{directory}: bundle was trained on feature set {bundle_set!r}, but "
                        f"{feature_set!r} was requested; pick a bundle of {feature_set!r} or "
                        f"drop the feature-set option")
    if target is not None and extra["target"] != target:
        raise DataError(f"{directory}: bundle predicts {extra['target']!r}, not {target!r}")
    expected = feature_version(bundle_set, mode)
    if extra["feature_version"] != expected:
        raise DataError(f"{directory}: bundle features are version {extra['feature_version']!r} "
                        f"but this mer computes {expected!r}; re-export the model")
    dims = FEATURE_SETS[bundle_set].dims
    if meta["input_dim"] != dims:
        raise _broken(weights, f"the model takes {meta['input_dim']} input dims but feature set "
                               f"{bundle_set!r} has {dims}")
    mean, std = _checked_statistics(weights, extra, meta["input_dim"])
    predict_set = extra.get("predict_feature_set", bundle_set)
    if not isinstance(predict_set, str) or predict_set not in FEATURE_SETS:
        raise _broken(weights, f"predict_feature_set {predict_set!r} is not a feature set this "
                               f"mer knows")
    if predict_set != bundle_set and extra.get("predict_feature_version") != feature_version(predict_set, mode):
        raise DataError(f"{directory}: bundle features are computed by {predict_set!r} version "
                        f"{extra.get('predict_feature_version')!r}, but this mer computes "
                        f"{feature_version(predict_set, mode)!r}; re-export the model")
    return Bundle(directory, model, meta["model_name"], extra["target"], bundle_set, mode,
                  mean, std, card, predict_set)


def find_bundles(root, targets=("arousal", "valence"), *, feature_set: str | None = None
                 ) -> dict[str, Path]:
    """Bundle folder of each target under ``root`` (a models/ tree or one bundle's parent).

    ``root`` may itself be a bundle. Exactly one bundle per target must match
    (``feature_set`` narrows the search); otherwise ``DataError`` lists what was found and
    says how to pick one (``--model``) or get one (``snakemake --cores 8 export``).
    """
    root = Path(root)
    found: dict[str, list[Path]] = {t: [] for t in targets}
    candidates = [root] if (root / WEIGHTS_FILE).is_file() else \
        sorted(p.parent for p in root.rglob(CARD_FILE)) if root.is_dir() else []
    for folder in candidates:
        card = read_card(folder / CARD_FILE)
        target = card.get("target")
        if target is None:  # a bundle without card: ask the checkpoint
            target = load_bundle(folder).target
        if not isinstance(target, str) or not isinstance(card.get("feature_set", ""), str):
            raise DataError(f"{folder / CARD_FILE}: broken model bundle: its target and "
                            f"feature_set must be names, found {target!r} and "
                            f"{card.get('feature_set')!r}; {REEXPORT}")
        if target in found and (feature_set is None or card.get("feature_set", feature_set) == feature_set):
            found[target].append(folder)
    missing = [t for t, paths in found.items() if not paths]
    if missing:
        where = f"under {root}" if root.exists() else f"({root} does not exist)"
        raise DataError(f"no trained model for {', '.join(missing)}"
                        f"{f' on feature set {feature_set!r}' if feature_set else ''} {where}. "
                        "Train and export one with `snakemake --cores 8 export` (writes "
                        "models/{dataset}/{target}/{feature_set}/{model}/), or pass a bundle "
                        "folder with --model")
    several = {t: paths for t, paths in found.items() if len(paths) > 1}
    if several:
        listing = "; ".join(f"{t}: {', '.join(map(str, p))}" for t, p in several.items())
        raise DataError(f"several bundles match under {root} ({listing}); choose with --model "
                        "DIR (once per target) or --features NAME")
    return {t: paths[0] for t, paths in found.items()}
