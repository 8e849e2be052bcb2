"""params.yaml validation: structure by JSON schema, names by the registries.

The schema (``workflow/schemas/params.schema.yaml``) checks keys, types and ranges; the
feature-set and model names are checked against ``mer.features`` and ``mer.models`` so
that adding a feature set or model family stays one registry entry. Every problem is
reported at once, each line naming the key, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from mer.errors import ConfigError

# Songs of the datasets whose size params.yaml fixes (synthetic: `synthetic.n_songs`), so
# that `cv.folds` can be checked before any job runs (and before Snakemake deletes folds.csv).
KNOWN_SONG_COUNTS = {"emomusic": 744}


def _key(path) -> str:
    parts = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "(top level)"


def _describe(error) -> str:
    key = _key(error.absolute_path)
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"`{key}`: {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"`{key}`: unknown key(s) {', '.join(map(str, extra))}; allowed keys: {known}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        where = f"`{key}.{missing}`" if error.absolute_path else f"`{missing}`"
        return f"{where}: required key is missing"
    return f"`{key}`: {error.message}"


def schema_errors(params: dict, schema: dict) -> list[str]:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(e) for e in errors]


def grid_runs(params: dict) -> list[tuple[str, str]]:
    """(feature set, model) pairs the selected grid trains, in order, each once.

    A grid is a list of experiments, each the product of its feature sets and models (the
    paper's Experiment 1: every model on ComParE; Experiment 2: AT sizes on the smaller sets).
    """
    runs = []
    for experiment in params["grids"][params["grid"]]["experiments"]:
        for feature_set in experiment["feature_sets"]:
            for model in experiment["models"]:
                if (feature_set, model) not in runs:
                    runs.append((feature_set, model))
    return runs


def grid_feature_sets(params: dict) -> list[str]:
    """Feature sets the selected grid needs, in order of first use."""
    return list(dict.fromkeys(feature_set for feature_set, _ in grid_runs(params)))


def grid_models(params: dict) -> list[str]:
    """Models the selected grid trains (on at least one feature set), in order of first use."""
    return list(dict.fromkeys(model for _, model in grid_runs(params)))


def grid_max_epochs(params: dict) -> int:
    return params["grids"][params["grid"]]["max_epochs"]


# Training settings a grid may set for itself: the ones whose best value depends on how many
# optimiser steps the grid affords (docs/training.md measures them at two scales).
GRID_TRAIN_KEYS = ("init", "rmsprop_eps", "learning_rate")


def grid_train(params: dict) -> dict:
    """``train`` with the selected grid's own ``train`` settings (GRID_TRAIN_KEYS) on top."""
    return {**params["train"], **params["grids"][params["grid"]].get("train", {})}


def grid_baseline_model(params: dict) -> str:
    return params["grids"][params["grid"]]["baseline_model"]


def name_errors(params: dict) -> list[str]:
    """Names the schema cannot know: feature sets, model names and cross-references."""
    from mer.features import FEATURE_SETS
    from mer.models import parse_model_name

    problems = []
    if params["grid"] not in params["grids"]:
        return [f"`grid`: unknown grid {params['grid']!r}; pick one of the names under `grids`: "
                f"{', '.join(params['grids'])}"]
    for grid_name, grid in params["grids"].items():  # every grid, so a typo shows before it runs
        for i, experiment in enumerate(grid["experiments"]):
            key = f"grids.{grid_name}.experiments[{i}]"
            for j, name in enumerate(experiment["feature_sets"]):
                if name not in FEATURE_SETS:
                    problems.append(f"`{key}.feature_sets[{j}]`: unknown feature set {name!r}; "
                                    f"known sets: {', '.join(FEATURE_SETS)}")
            for j, name in enumerate(experiment["models"]):
                try:
                    parse_model_name(name)
                except ConfigError as error:
                    problems.append(f"`{key}.models[{j}]`: {error}")
    if problems:
        return problems
    if params["dataset"] == "local" and not params["datasets"]["local"]["path"]:
        problems.append("`datasets.local.path`: required when `dataset` is local; set it to the "
                        "folder holding clips_45seconds/ and annotations/ (check it first with "
                        "`mer data check FOLDER`)")
    n_songs = (params["synthetic"]["n_songs"] if params["dataset"] == "synthetic"
               else KNOWN_SONG_COUNTS.get(params["dataset"]))
    if params["cv"]["split"] == "kfold" and n_songs is not None and params["cv"]["folds"] > n_songs:
        source = "`synthetic.n_songs`" if params["dataset"] == "synthetic" else "the dataset"
        problems.append(f"`cv.folds`: {params['cv']['folds']} folds but dataset "
                        f"{params['dataset']!r} has {n_songs} songs ({source}); use at most "
                        f"{n_songs} folds" + (" or raise `synthetic.n_songs`"
                                              if params["dataset"] == "synthetic" else ""))
    if params["dataset"] == "deam" and params["cv"]["split"] == "mediaeval2013":
        problems.append("`cv.split`: mediaeval2013 is emoMusic's own split; for DEAM use "
                        "`cv.split: mediaeval2015` (DEAM's own benchmark) or kfold")
    if params["dataset"] != "deam" and params["cv"]["split"] == "mediaeval2015":
        problems.append(f"`cv.split`: mediaeval2015 is DEAM's split (train on ids 2..2000, test "
                        f"on 2001..2058); dataset {params['dataset']!r} has no such songs, use "
                        f"kfold or mediaeval2013")
    shipped = [name for name in grid_feature_sets(params) if FEATURE_SETS[name].precomputed]
    if shipped and params["dataset"] != "deam":
        problems.append(f"`grids.{params['grid']}`: feature set(s) {shipped} ship only with "
                        f"DEAM (dataset: deam); dataset {params['dataset']!r} has no such files")
    report, grid = params["report"], params["grid"]
    runs, feature_sets = grid_runs(params), grid_feature_sets(params)
    table1_set = report["table1"]["feature_set"]
    if table1_set not in feature_sets:
        problems.append(f"`report.table1.feature_set`: {table1_set!r} is not in grid {grid!r}; "
                        f"pick one of {feature_sets}")
    elif (table1_set, grid_baseline_model(params)) not in runs:
        trained = [model for feature_set, model in runs if feature_set == table1_set]
        problems.append(f"`grids.{grid}.baseline_model`: {grid_baseline_model(params)!r} is not "
                        f"trained on {table1_set!r} (report.table1.feature_set) in grid {grid!r}; "
                        f"add it to that experiment's models or pick one of {trained}")
    if params["export"]["feature_set"] not in feature_sets:
        problems.append(f"`export.feature_set`: {params['export']['feature_set']!r} is not in grid "
                        f"{grid!r}; pick one of {feature_sets}")
    elif (FEATURE_SETS[params["export"]["feature_set"]].precomputed
          and FEATURE_SETS[params["export"]["feature_set"]].computed_by is None):
        problems.append(f"`export.feature_set`: {params['export']['feature_set']!r} is read from "
                        f"the dataset's files, so `mer predict` could not compute it for new audio; "
                        f"pick a set computed from audio")
    if report["table1"]["target"] not in params["train"]["targets"]:
        problems.append(f"`report.table1.target`: {report['table1']['target']!r} is not trained; "
                        f"pick one of {params['train']['targets']}")
    return problems


def validate_params(params: dict, schema_path: str | Path, source: str = "params.yaml") -> dict:
    """Return ``params`` unchanged if valid, else raise ConfigError listing every problem."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    problems = schema_errors(params, schema)
    if not problems:
        problems = name_errors(params)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"{source} is invalid:\n{lines}\nFix the value(s) in {source} "
                          f"(or the --config override) and run again.")
    return params


def read_params_yaml(path: str | Path) -> dict:
    """The mapping in the YAML file ``path``; ``ConfigError`` with the line and column of a
    syntax error (Snakemake's own reader says only "not valid JSON or YAML")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read parameters ({error})") from None
    try:
        params = yaml.safe_load(text)
    except (ValueError, RecursionError) as error:  # e.g. `seed: 2001-02-30`, a date YAML builds
        raise ConfigError(f"{path}: invalid value ({type(error).__name__}: {error}); a value "
                          f"that YAML reads as a date or is nested thousands deep. Fix it "
                          f"(quote text values) and run again.") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where, shown = "", ""
        if mark is not None:
            where = f", line {mark.line + 1}, column {mark.column + 1}"
            lines = text.splitlines()
            if mark.line < len(lines):
                shown = f"\n    {lines[mark.line]}\n    {' ' * mark.column}^"
        what = "; ".join(str(part) for part in (getattr(error, "context", None),
                                                 getattr(error, "problem", None)) if part)
        raise ConfigError(f"{path}{where}: invalid YAML ({what or error}){shown}\nFix the "
                          f"syntax there (indentation by spaces, no tabs; closed brackets and "
                          f"quotes; `key: value`) and run again.") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of parameters at the top level")
    return params


def load_params(path: str | Path, schema_path: str | Path) -> dict:
    path = Path(path)
    return validate_params(read_params_yaml(path), schema_path, source=str(path))
