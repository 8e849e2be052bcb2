import copy
import re
from pathlib import Path

import pytest
import yaml

from mer.cli import main as mer_main
from mer.config import grid_feature_sets, grid_models, grid_runs, load_params, validate_params
from mer.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "params.schema.yaml"


@pytest.fixture
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def check(params):
    return validate_params(params, SCHEMA)


def test_shipped_params_are_valid(params):
    assert check(params) is params


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(dataset="emoMusik"), r"`dataset`: 'emoMusik' is not allowed; allowed values: synthetic"),
    (lambda p: p["grids"]["quick"].update(max_epochs=0), r"`grids.quick.max_epochs`: 0 is less than the minimum"),
    (lambda p: p["train"].update(learning_rate="fast"), r"`train.learning_rate`: 'fast' is not of type 'number'"),
    (lambda p: p["train"].update(epochs=3), r"`train`: unknown key\(s\) epochs; allowed keys: .*batch_size"),
    (lambda p: p["cv"].pop("folds"), r"`cv.folds`: required key is missing"),
    (lambda p: p["train"].update(targets=["arousal", "dominance"]), r"`train.targets\[1\]`: 'dominance' is not allowed"),
    (lambda p: p.update(grid="huge"), r"`grid`: unknown grid 'huge'; pick one of the names under `grids`: quick, builtin_full, builtin_full_ablation, paper"),
    (lambda p: p["grids"]["quick"]["experiments"][1]["feature_sets"].append("mfcc"),
     r"`grids.quick.experiments\[1\].feature_sets\[4\]`: unknown feature set 'mfcc'; known sets: compare, "),
    (lambda p: p["grids"]["quick"]["experiments"][0].update(models=["AT_64", "GRU_64"]),
     r"`grids.quick.experiments\[0\].models\[1\]`: .*GRU_64.*valid forms"),
    # a typo in a grid that is not selected is caught too, before a long run reaches it
    (lambda p: p["grids"]["paper"]["experiments"][0]["models"].append("AT_"), r"`grids.paper.experiments\[0\].models\[40\]`: .*AT_"),  # 37 + 3 baselines
    (lambda p: p["grids"]["quick"]["experiments"][1].update(name="two words"), r"`grids.quick.experiments\[1\].name`"),
    (lambda p: p["grids"]["quick"].update(baseline_model="LSTM_400"),
     r"`grids.quick.baseline_model`: 'LSTM_400' is not trained on 'compare'"),
    (lambda p: p["report"]["table1"].update(feature_set="cqt"), r"`grids.quick.baseline_model`: 'LSTM_32' is not trained on 'cqt'"),
    (lambda p: p["report"]["table1"].update(feature_set="deam260"), r"`report.table1.feature_set`: 'deam260' is not in grid 'quick'"),
    (lambda p: p["grids"]["quick"].update(experiments=p["grids"]["quick"]["experiments"][:1]), r"`export.feature_set`: 'spectral' is not in grid 'quick'"),
    (lambda p: p["datasets"]["deam"]["urls"].update(audio="ftp://x/DEAM_audio.zip"), r"`datasets.deam.urls.audio`"),
    (lambda p: (p.update(dataset="deam"), p["datasets"]["deam"].update(path="/d"), p["cv"].update(split="mediaeval2013")),
     r"`cv.split`: mediaeval2013 is emoMusic's own split; for DEAM use `cv.split: mediaeval2015`"),
    (lambda p: p["cv"].update(split="mediaeval2015"),
     r"`cv.split`: mediaeval2015 is DEAM's split \(train on ids 2..2000, test on 2001..2058\); "
     r"dataset 'synthetic' has no such songs"),
    (lambda p: p["grids"]["quick"]["experiments"][1]["feature_sets"].append("deam260"),
     r"`grids.quick`: feature set\(s\) \['deam260'\] ship only with DEAM"),
    (lambda p: (p.update(dataset="deam"), p["datasets"]["deam"].update(path="/d", allow_missing_audio="yes")),
     r"`datasets.deam.allow_missing_audio`: 'yes' is not of type 'boolean'"),
])
def test_invalid_value_names_the_key(params, edit, message):
    edit(params)
    with pytest.raises(ConfigError, match=message) as raised:
        check(params)
    assert "params.yaml is invalid" in str(raised.value)


def test_every_problem_is_reported_at_once(params):
    params["seed"] = -1
    params["cv"]["folds"] = 1
    with pytest.raises(ConfigError) as raised:
        check(params)
    assert "`seed`" in str(raised.value) and "`cv.folds`" in str(raised.value)


def test_load_params_reports_unreadable_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: 1\ndataset: [unclosed\n")
    with pytest.raises(ConfigError, match=r"params.yaml, line 3, column 1: invalid YAML"):
        load_params(path, SCHEMA)
    path.write_text("seed: 1\ncv:\n  folds: 2\n\tsplit: kfold\n")
    with pytest.raises(ConfigError, match=r"line 4, column 1: invalid YAML .*\n.*\tsplit"):
        load_params(path, SCHEMA)
    with pytest.raises(ConfigError, match="cannot read parameters"):
        load_params(tmp_path / "absent.yaml", SCHEMA)


@pytest.mark.parametrize("text, message", [
    ("seed: 2001-02-30\n", r"invalid value \(ValueError: day is out of range"),  # found by fuzzing
    ("a: " + "[" * 3000 + "\n", r"invalid value \(RecursionError"),
    (b"seed: \xff\xfe\n", r"cannot read parameters"),
])
def test_yaml_values_python_cannot_build_are_config_errors(tmp_path, text, message):
    path = tmp_path / "params.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message):
        load_params(path, SCHEMA)


@pytest.mark.parametrize("dataset, folds, n_songs, message", [
    ("synthetic", 7, 6, r"`cv.folds`: 7 folds but dataset 'synthetic' has 6 songs \(`synthetic.n_songs`\)"),
    ("emomusic", 745, 60, r"`cv.folds`: 745 folds but dataset 'emomusic' has 744 songs"),
])
def test_more_folds_than_songs_is_refused_at_load(params, dataset, folds, n_songs, message):
    params.update(dataset=dataset)
    params["synthetic"]["n_songs"] = n_songs
    params["cv"]["folds"] = folds
    if folds > 100:  # the schema's maximum comes first: check the name check directly
        from mer.config import name_errors
        assert any(re.search(message, p) for p in name_errors(params))
        return
    with pytest.raises(ConfigError, match=message):
        check(params)
    params["cv"]["folds"] = n_songs
    check(params)


def test_cli_params_check(tmp_path, params, capsys):
    good = tmp_path / "params.yaml"
    good.write_text(yaml.safe_dump(params))
    assert mer_main(["params", "check", str(good), "--schema", str(SCHEMA)]) == 0
    bad = copy.deepcopy(params)
    bad["train"]["device"] = "tpu"
    good.write_text(yaml.safe_dump(bad))
    assert mer_main(["params", "check", str(good), "--schema", str(SCHEMA)]) == 2
    assert "`train.device`: 'tpu' is not allowed; allowed values: cpu, cuda, auto" in capsys.readouterr().err


def test_cli_lists_feature_sets_and_describes_models(capsys):
    assert mer_main(["features", "list"]) == 0
    out = capsys.readouterr().out
    assert "spectral" in out and "197" in out and "compare" in out and "6373" in out
    assert mer_main(["models", "describe", "LSTM_16", "--input-dim", "5"]) == 0
    assert "parameters" in capsys.readouterr().out
    assert mer_main(["models", "describe", "XYZ_1"]) == 2


def test_grid_runs_are_the_union_of_its_experiments_in_order():
    params = {"grid": "g", "grids": {"g": {"experiments": [
        {"name": "a", "feature_sets": ["compare"], "models": ["LSTM_8", "AT_8"]},
        {"name": "b", "feature_sets": ["spectral", "compare"], "models": ["AT_8"]}]}}}
    assert grid_runs(params) == [("compare", "LSTM_8"), ("compare", "AT_8"), ("spectral", "AT_8")]
    assert grid_feature_sets(params) == ["compare", "spectral"]
    assert grid_models(params) == ["LSTM_8", "AT_8"]


def test_paper_grid_is_exactly_the_papers_searches(params):
    from mer.reports.paper import PAPER_GRID
    params["grid"] = "paper"
    check(params)
    families, feature_sets = params["grids"]["paper"]["experiments"]
    baselines = ["MEAN", "RIDGE", "RIDGE_SONG"]  # ours, beside the paper's searches
    assert families["feature_sets"] == ["compare"] and families["models"] == list(PAPER_GRID) + baselines
    assert feature_sets["feature_sets"] == ["chroma", "cqt", "chroma_cqt", "spectral"]
    assert feature_sets["models"] == [m for m in PAPER_GRID if m.startswith("AT_") and m.count("_") == 1] \
        + baselines
    assert params["grids"]["paper"]["max_epochs"] == 50
    assert params["grids"]["paper"]["baseline_model"] == "LSTM_400"


def test_quick_grid_keeps_every_family_and_feature_set(params):
    from mer.features import FEATURE_SETS
    from mer.models import parse_model_name
    assert params["grid"] == "quick"
    families = {parse_model_name(model).family for model in grid_models(params)}
    assert families == {"LSTM", "AT", "BAT", "TRANSFORMER", "MEAN", "RIDGE", "RIDGE_SONG"}
    # every set computed from audio but deam_features (DEAM's own 260 columns, not the paper's)
    assert set(grid_feature_sets(params)) == {n for n, s in FEATURE_SETS.items()
                                              if not s.precomputed and n != "deam_features"}


def test_a_deam260_model_can_be_exported_for_new_audio(params):
    # deam260 is read from DEAM's files but computed from audio by deam_features
    params.update(dataset="deam")
    params["datasets"]["deam"]["path"] = "/d"
    params["grids"]["quick"]["experiments"][1]["feature_sets"].append("deam260")
    params["export"]["feature_set"] = "deam260"
    params["cv"]["split"] = "mediaeval2015"
    check(params)


def test_a_grid_may_set_its_own_init_and_eps_over_train(params):
    from mer.config import grid_train
    params["grids"]["quick"]["train"] = {"init": "torch", "rmsprop_eps": "outside"}
    params["train"].update(init="keras", rmsprop_eps="inside")
    check(params)
    assert grid_train(params)["init"] == "torch" and grid_train(params)["rmsprop_eps"] == "outside"
    assert grid_train(params)["batch_size"] == params["train"]["batch_size"]
    params["grid"] = "paper"
    assert grid_train(params)["init"] == "keras"
    params["grids"]["quick"]["train"] = {"patience": 3}
    with pytest.raises(ConfigError, match=r"grids\.quick\.train"):
        check(params)
