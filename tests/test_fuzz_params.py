"""Fuzzing params.yaml: values drawn from the schema (workflow/schemas/params.schema.yaml),
then mutated, must validate or raise a ``ConfigError`` (a ``MerError``) naming the problem;
so must params.yaml text with random damage. What passes must also be usable by what the
Snakefile computes at parse time (the grid's runs, folds, epochs).

``hypothesis-jsonschema`` is not a dependency, so ``from_schema`` below draws values for the
handful of keywords the schema uses (type, enum, minimum/maximum, items, properties,
additionalProperties, oneOf) and deliberately strays past their bounds.
"""

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_settings import apply_damage, damage_strategy, only_mer_errors
from mer.config import (grid_baseline_model, grid_feature_sets, grid_max_epochs, grid_models,
                        grid_runs, load_params, validate_params)
from mer.cv import n_test_folds

pytestmark = pytest.mark.fuzz

REPO = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO / "workflow" / "schemas" / "params.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())
SHIPPED = yaml.safe_load((REPO / "params.yaml").read_text())
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(),
                 st.text(max_size=10), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
NAMES = st.sampled_from(["compare", "spectral", "chroma", "cqt", "deam260", "mfcc", "AT_8",
                         "LSTM_8", "BAT_16", "TRANSFORMER_1", "GRU_8", "AT_", "quick", "paper",
                         "arousal", "valence", "", "two words"])


def from_schema(node, depth=0):
    """A strategy of values for the schema ``node``: valid ones, boundary ones, and strays."""
    if depth > 6:
        return JUNK
    if "oneOf" in node:
        return st.one_of([from_schema(option, depth + 1) for option in node["oneOf"]])
    if "enum" in node:
        return st.one_of(st.sampled_from(node["enum"]), NAMES)
    kinds = node.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    options = []
    for kind in kinds:
        if kind == "integer":
            low, high = node.get("minimum", -10**6), node.get("maximum", 10**6)
            options.append(st.integers(low - 2, high + 2))
        elif kind == "number":
            low = node.get("minimum", node.get("exclusiveMinimum", -1e6))
            high = node.get("maximum", node.get("exclusiveMaximum", 1e6))
            options.append(st.floats(low - 1, high + 1) | st.sampled_from([low, high, float("nan")]))
        elif kind == "string":
            options.append(NAMES | st.text(max_size=20))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array":
            options.append(st.lists(from_schema(node.get("items", {}), depth + 1), max_size=4))
        elif kind == "object":
            properties = node.get("properties", {})
            if properties:
                options.append(st.fixed_dictionaries(
                    {}, optional={k: from_schema(v, depth + 1) for k, v in properties.items()}))
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                options.append(st.dictionaries(NAMES, from_schema(extra, depth + 1), max_size=2))
    return st.one_of(options) if options else JUNK


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            yield prefix + (key,)
            yield from _leaf_paths(inner, prefix + (key,))


PATHS = sorted(_leaf_paths(SHIPPED), key=str)


def _schema_at(path):
    node = SCHEMA
    for key in path:
        properties = node.get("properties", {})
        node = properties.get(key) or (node.get("additionalProperties")
                                       if isinstance(node.get("additionalProperties"), dict) else {})
    return node


def _usable(params):
    """What common.smk computes from a valid config must not fail."""
    validate_params(params, SCHEMA_PATH)
    assert grid_runs(params) and grid_feature_sets(params) and grid_models(params)
    assert grid_max_epochs(params) >= 1 and grid_baseline_model(params)
    assert n_test_folds(params["cv"]["split"], params["cv"]["folds"]) >= 1


EDIT = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS)).flatmap(
        lambda edit: st.tuples(st.just(edit[0]), st.just(edit[1]),
                               st.one_of(from_schema(_schema_at(edit[1])), JUNK))),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from(PATHS), JUNK),
)


def _edited(edits):
    params = copy.deepcopy(SHIPPED)
    for kind, path, value in edits:
        parent = params
        for key in path[:-1]:
            if not isinstance(parent, dict) or key not in parent:
                break
            parent = parent[key]
        else:
            if not isinstance(parent, dict):
                continue
            if kind == "set":
                parent[path[-1]] = value
            elif kind == "delete":
                parent.pop(path[-1], None)
            else:
                parent[f"{path[-1]}_typo"] = value
    return params


@given(edits=st.lists(EDIT, min_size=1, max_size=3))
def test_schema_drawn_and_mutated_params_raise_only_config_errors(edits):
    params = _edited(edits)
    only_mer_errors(lambda: _usable(params))


@given(edits=damage_strategy())
def test_damaged_params_yaml_text_raises_only_config_errors(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_bytes(apply_damage((REPO / "params.yaml").read_bytes(), edits))
    only_mer_errors(lambda: load_params(path, SCHEMA_PATH))


def test_shipped_params_are_usable():
    _usable(copy.deepcopy(SHIPPED))
