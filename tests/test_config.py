import copy
from pathlib import Path

import pytest
import yaml

from mer.cli import main as mer_main
from mer.config import load_params, validate_params
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
    (lambda p: p["train"].update(max_epochs=0), r"`train.max_epochs`: 0 is less than the minimum"),
    (lambda p: p["train"].update(learning_rate="fast"), r"`train.learning_rate`: 'fast' is not of type 'number'"),
    (lambda p: p["train"].update(epochs=3), r"`train`: unknown key\(s\) epochs; allowed keys: .*max_epochs"),
    (lambda p: p["cv"].pop("folds"), r"`cv.folds`: required key is missing"),
    (lambda p: p["train"].update(targets=["arousal", "dominance"]), r"`train.targets\[1\]`: 'dominance' is not allowed"),
    (lambda p: p["features"].update(sets=["spectral", "mfcc"]), r"`features.sets\[1\]`: unknown feature set 'mfcc'; known sets: compare, "),
    (lambda p: p["train"].update(models=["AT_64", "GRU_64"]), r"`train.models\[1\]`: .*GRU_64.*valid forms"),
    (lambda p: p["train"].update(models=["AT_64", "AT_"]), r"`train.models\[1\]`: .*AT_"),
    (lambda p: p["report"].update(baseline_model="LSTM_400"), r"`report.baseline_model`: 'LSTM_400' is not trained"),
    (lambda p: p["report"]["table1"].update(feature_set="cqt"), r"`report.table1.feature_set`: 'cqt' is not extracted"),
    (lambda p: p["export"].update(feature_set="chroma"), r"`export.feature_set`: 'chroma' is not extracted"),
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
    path.write_text("dataset: [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read parameters"):
        load_params(path, SCHEMA)


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
