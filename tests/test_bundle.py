"""Model bundles: selection, final retraining, the files written, safe loading, errors."""

import json

import numpy as np
import pytest
import torch

from mer.bundle import (CARD_FILE, WEIGHTS_FILE, export_model, feature_version, final_epochs,
                        find_bundles, load_bundle, params_hash)
from mer.data.emomusic import Annotations
from mer.errors import DataError
from mer.features import FeatureTable, feature_set
from mer.training import TrainConfig

SET = "spectral"
MODELS = {"LSTM_4": {}, "AT_4": {}}


def tiny_dataset(n_songs=6, set_name=SET, seed=0):
    """Random features of ``set_name`` and smooth annotations in [-1, 1] for a few songs."""
    rng = np.random.default_rng(seed)
    ids = np.arange(10, 10 + n_songs, dtype=np.int64)
    dims = feature_set(set_name).dims
    values = (rng.standard_normal((n_songs, 61, dims)) * 3 + 5).astype(np.float32)
    features = FeatureTable.from_padded(values, ids, feature_set(set_name).columns, set_name)
    drift = np.cumsum(rng.standard_normal((2, n_songs, 61)) * 0.02, axis=-1)
    targets = np.clip(rng.uniform(-0.5, 0.5, (2, n_songs, 1)) + drift, -1, 1).astype(np.float32)
    annotations = Annotations(ids, {"arousal": targets[0], "valence": targets[1]})
    return features, annotations, ids


def write_summary(path, *, target, model, r2, mae, best_epochs, set_name=SET):
    folds = [{"fold": k, "r2": r2, "tau": 0.1, "mae": mae, "epochs": e + 2, "best_epoch": e}
             for k, e in enumerate(best_epochs)]
    summary = {"dataset": "tiny", "target": target, "feature_set": set_name, "model": model,
               "n_folds": len(folds), "r2": r2, "r2_std": 0.01, "tau": 0.1, "tau_std": 0.0,
               "mae": mae, "mae_std": 0.0, "epochs_mean": 3.0, "folds": folds}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary))
    return path


def export_tiny_bundles(root, *, set_name=SET, targets=("arousal", "valence"), best="AT_4"):
    """Export one tiny bundle per target (``best`` wins the selection); target -> folder."""
    features, annotations, ids = tiny_dataset(set_name=set_name)
    folders = {}
    for target in targets:
        summaries = [write_summary(root / "results" / target / model / "cv_summary.json",
                                   target=target, model=model, set_name=set_name,
                                   r2=0.5 if model == best else 0.2, mae=0.1,
                                   best_epochs=[1, 2, 2])
                     for model in MODELS]
        folders[target] = export_model(
            summaries, features=features, annotations=annotations, song_ids=ids,
            dataset="tiny", target=target, feature_set=set_name, compare_mode="per_segment",
            train_config=TrainConfig(seed=3, batch_size=4), model_options_by_name=MODELS,
            params={"seed": 3, "train": {"batch_size": 4}},
            out_root=root / "models" / "tiny" / target / set_name)
    return folders


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    return root, export_tiny_bundles(root, targets=("arousal",))


def test_export_selects_best_model_and_writes_safe_files(exported):
    root, folders = exported
    folder = folders["arousal"]
    assert folder == root / "models" / "tiny" / "arousal" / SET / "AT_4"
    payload = torch.load(folder / WEIGHTS_FILE, weights_only=True)  # must not need pickle
    extra = payload["meta"]["extra"]
    assert payload["meta"]["model_name"] == "AT_4"
    assert extra["feature_set"] == SET and extra["feature_version"] == feature_version(SET)
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["dataset"] == "tiny" and card["target"] == "arousal"
    assert [c["model"] for c in card["selection"]["candidates"]] == ["AT_4", "LSTM_4"]
    assert card["cv"]["n_folds"] == 3 and card["cv"]["r2"] == 0.5
    assert card["final_model"]["epochs"] == 2 and card["final_model"]["n_songs"] == 6
    assert card["params_hash"] == params_hash({"seed": 3, "train": {"batch_size": 4}})
    assert card["code_version"]["mer"]


def test_bundle_normalisation_is_fitted_on_all_songs(exported):
    _, folders = exported
    features, _, _ = tiny_dataset()
    bundle = load_bundle(folders["arousal"], feature_set=SET, target="arousal")
    flat = np.asarray(features.values, np.float64).reshape(-1, features.values.shape[-1])
    np.testing.assert_allclose(bundle.feature_mean, flat.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bundle.feature_std, flat.std(axis=0), rtol=1e-4)
    assert bundle.has_attention and bundle.model_name == "AT_4"


def test_export_is_deterministic(exported, tmp_path):
    _, folders = exported
    again = export_tiny_bundles(tmp_path, targets=("arousal",))["arousal"]
    first = torch.load(folders["arousal"] / WEIGHTS_FILE, weights_only=True)["state_dict"]
    second = torch.load(again / WEIGHTS_FILE, weights_only=True)["state_dict"]
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_mismatched_feature_set_is_a_clear_error(exported):
    _, folders = exported
    with pytest.raises(DataError, match=r"trained on feature set 'spectral'.*'chroma' was requested"):
        load_bundle(folders["arousal"], feature_set="chroma")


def test_changed_feature_version_is_refused(exported, tmp_path):
    _, folders = exported
    payload = torch.load(folders["arousal"] / WEIGHTS_FILE, weights_only=True)
    payload["meta"]["extra"]["feature_version"] = "spectral/old"
    (tmp_path / WEIGHTS_FILE).parent.mkdir(exist_ok=True)
    torch.save(payload, tmp_path / WEIGHTS_FILE)
    with pytest.raises(DataError, match="re-export"):
        load_bundle(tmp_path)


def test_final_epochs_is_the_median_best_epoch_rounded_half_up():
    assert final_epochs({"folds": [{"best_epoch": e} for e in (3, 9, 4)]}) == 4
    assert final_epochs({"folds": [{"best_epoch": e} for e in (2, 3)]}) == 3
    with pytest.raises(DataError, match="best_epoch"):
        final_epochs({"model": "AT_4", "folds": [{}]})


def test_find_bundles_without_models_says_how_to_get_one(tmp_path):
    with pytest.raises(DataError, match=r"snakemake --cores 8 export"):
        find_bundles(tmp_path / "models")


def test_find_bundles_finds_one_per_target(exported):
    root, folders = exported
    assert find_bundles(root / "models", ("arousal",)) == folders
    with pytest.raises(DataError, match="no trained model for arousal on feature set 'chroma'"):
        find_bundles(root / "models", ("arousal",), feature_set="chroma")


# -- damaged bundles: each a DataError naming the file, what is wrong and the fix ----------

def _copy_bundle(folders, tmp_path):
    import shutil
    copy = tmp_path / "bundle"
    shutil.copytree(folders["arousal"], copy)
    return copy


def _edit_payload(folder, edit):
    payload = torch.load(folder / WEIGHTS_FILE, weights_only=True)
    edit(payload)
    torch.save(payload, folder / WEIGHTS_FILE)


def _set_meta(payload, value):
    payload["meta"] = value


def _grow_first_weight(payload):
    name = next(k for k, v in payload["state_dict"].items() if v.ndim >= 1)
    tensor = payload["state_dict"][name]
    payload["state_dict"][name] = torch.zeros((tensor.shape[0] + 1, *tensor.shape[1:]))


def _nan_mean(payload):
    payload["meta"]["extra"]["feature_mean"][3] = float("nan")


@pytest.mark.parametrize("damage, file, message", [
    (lambda f: (f / WEIGHTS_FILE).write_bytes(b""), WEIGHTS_FILE, r"the file is empty"),
    (lambda f: (f / WEIGHTS_FILE).write_bytes((f / WEIGHTS_FILE).read_bytes()[:300]), WEIGHTS_FILE,
     r"broken model bundle"),
    (lambda f: _edit_payload(f, lambda p: _set_meta(p, ["not", "a", "mapping"])), WEIGHTS_FILE,
     r"metadata is not what mer writes \('meta' must be a mapping"),
    (lambda f: _edit_payload(f, _grow_first_weight), WEIGHTS_FILE,
     r"weights do not fit the model .*size mismatch"),
    (lambda f: _edit_payload(f, lambda p: p["meta"].update(input_dim=p["meta"]["input_dim"] + 1)),
     WEIGHTS_FILE, r"weights do not fit the model .*changed input_dim"),
    (lambda f: _edit_payload(f, _nan_mean), WEIGHTS_FILE,
     r"feature_mean holds 1 NaN or infinite value\(s\) \(first at dims \[3\]\)"),
    (lambda f: _edit_payload(f, lambda p: p["meta"]["extra"].update(feature_std=[0.0] * 197)),
     WEIGHTS_FILE, r"feature_std holds 197 value\(s\) <= 0"),
    (lambda f: (f / CARD_FILE).write_text('{"target": "arousal",'), CARD_FILE, r"not valid JSON"),
    (lambda f: (f / CARD_FILE).write_text('["arousal"]'), CARD_FILE, r"expected a JSON object"),
])
def test_damaged_bundle_is_a_clear_error_naming_the_file(exported, tmp_path, damage, file, message):
    _, folders = exported
    folder = _copy_bundle(folders, tmp_path)
    damage(folder)
    with pytest.raises(DataError, match=message) as raised:
        load_bundle(folder)
    assert str(folder / file) in str(raised.value)
    assert "re-export the bundle" in str(raised.value)


def test_damaged_bundle_in_mer_predict_exits_2_without_traceback(exported, tmp_path, capsys):
    import soundfile as sf
    from mer.cli import main

    _, folders = exported
    folder = _copy_bundle(folders, tmp_path)
    (folder / WEIGHTS_FILE).write_bytes(b"")
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros(22050, np.float32), 22050)
    code = main(["predict", str(song), "--model", str(folder), "--out", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"mer: error: {folder / WEIGHTS_FILE}: broken model bundle: the file is empty" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_find_bundles_names_an_invalid_card(exported, tmp_path):
    _, folders = exported
    folder = _copy_bundle(folders, tmp_path)
    (folder / CARD_FILE).write_text("{oops")
    with pytest.raises(DataError, match=r"card.json: broken model bundle: not valid JSON"):
        find_bundles(tmp_path)


def test_a_deam260_bundle_predicts_new_audio_through_deam_features(tmp_path):
    import soundfile as sf
    from mer.predict import load_bundles, predict_song
    folder = export_tiny_bundles(tmp_path, set_name="deam260", targets=("arousal",))["arousal"]
    card = json.loads((folder / CARD_FILE).read_text())
    assert card["feature_set"] == "deam260" and card["predict_feature_set"] == "deam_features"
    bundle = load_bundle(folder)
    assert bundle.feature_set == "deam260" and bundle.predict_feature_set == "deam_features"
    t = np.arange(int(2.1 * 44_100)) / 44_100
    sf.write(tmp_path / "song.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 44_100)
    prediction = predict_song(tmp_path / "song.wav", load_bundles([folder]))
    assert len(prediction.curves) == 4 and np.isfinite(prediction.curves["arousal"]).all()


def test_deam260_files_with_other_columns_are_not_exported(tmp_path):
    features, annotations, ids = tiny_dataset(set_name="deam260")
    renamed = FeatureTable.from_padded(features.rows(ids), ids, [f"x{i}" for i in range(260)], "deam260")
    summary = write_summary(tmp_path / "s.json", target="arousal", model="AT_4", r2=0.5, mae=0.1,
                            best_epochs=[1], set_name="deam260")
    with pytest.raises(DataError, match="columns of this dataset's files differ from those "
                                        "deam_features computes"):
        export_model([summary], features=renamed, annotations=annotations, song_ids=ids,
                     dataset="deam", target="arousal", feature_set="deam260",
                     compare_mode="per_segment", train_config=TrainConfig(seed=3, batch_size=4),
                     model_options_by_name=MODELS, params={}, out_root=tmp_path / "m")
