"""Fuzzing model bundles: mutated ``model.pt`` bytes, ``meta`` fields and ``card.json`` through
``mer.bundle.load_bundle`` must give a bundle or a ``MerError``, nothing else."""

import json
import shutil

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fuzz_settings import apply_damage, damage_strategy, only_mer_errors
from mer.bundle import CARD_FILE, WEIGHTS_FILE, load_bundle
from test_bundle import export_tiny_bundles

pytestmark = pytest.mark.fuzz

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40)
                    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
META_KEYS = ["format", "model_name", "input_dim", "model_options", "extra"]
EXTRA_KEYS = ["feature_set", "feature_version", "compare_mode", "feature_mean", "feature_std",
              "target", "bundle_format"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_tiny_bundles(tmp_path_factory.mktemp("fuzz-bundle"), targets=("arousal",))["arousal"]


def _copy(bundle, tmp_path_factory):
    folder = tmp_path_factory.mktemp("b") / "bundle"
    shutil.copytree(bundle, folder)
    return folder


@given(edits=damage_strategy())
def test_damaged_model_pt_bytes_raise_only_mer_errors(bundle, tmp_path_factory, edits):
    folder = _copy(bundle, tmp_path_factory)
    path = folder / WEIGHTS_FILE
    path.write_bytes(apply_damage(path.read_bytes(), edits))
    only_mer_errors(lambda: load_bundle(folder))


@given(where=st.sampled_from(["meta", "extra", "state_dict"]), key=st.sampled_from(META_KEYS + EXTRA_KEYS),
       value=JSON, delete=st.booleans())
def test_mutated_metadata_raises_only_mer_errors(bundle, tmp_path_factory, where, key, value, delete):
    folder = _copy(bundle, tmp_path_factory)
    payload = torch.load(folder / WEIGHTS_FILE, weights_only=True)
    if where == "state_dict":
        name = sorted(payload["state_dict"])[hash(key) % len(payload["state_dict"])]
        if delete:
            del payload["state_dict"][name]
        else:
            payload["state_dict"][name] = torch.full((3,), float("nan"))
    else:
        target = payload["meta"] if where == "meta" else payload["meta"]["extra"]
        if delete:
            target.pop(key, None)
        else:
            target[key] = value
    torch.save(payload, folder / WEIGHTS_FILE)
    only_mer_errors(lambda: load_bundle(folder))


CARD_EDIT = st.tuples(st.sampled_from(["target", "feature_set", "model", "dataset", "cv"]), JSON)


@given(card=st.one_of(JSON.map(json.dumps), st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
                      st.lists(CARD_EDIT, min_size=1, max_size=3)))
def test_random_card_json_raises_only_mer_errors(bundle, tmp_path_factory, card):
    from mer.bundle import find_bundles
    folder = _copy(bundle, tmp_path_factory)
    if isinstance(card, list):  # the real card with some fields replaced
        real = json.loads((folder / CARD_FILE).read_text())
        real.update(dict(card))
        card = json.dumps(real)
    (folder / CARD_FILE).write_text(card, encoding="latin-1")
    only_mer_errors(lambda: load_bundle(folder))
    only_mer_errors(lambda: find_bundles(folder.parent, ("arousal",)))
