import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mer.cv import predictions_table
from mer.reports.figures import figure1_prediction, median_error_clip
from mer.reports.tables import (family_group, load_summaries, metrics_tree, paper_layout_table,
                                select_best, write_result_tables)

MODELS = {"LSTM_8": 0.30, "LSTM_16": 0.35, "LSTM_8_4": 0.20, "AT_8": 0.50, "AT_16_8": 0.45}


def fake_results(root, dataset="synthetic", targets=("arousal", "valence"), feature_set="compare"):
    """Summaries and out-of-fold predictions laid out as the workflow writes them."""
    rng = np.random.default_rng(0)
    paths = []
    song_ids = [3, 5, 8, 13]
    annotation = rng.uniform(-0.5, 0.5, size=(4, 61))
    for target in targets:
        for model, r2 in MODELS.items():
            folder = root / target / feature_set / model
            folder.mkdir(parents=True)
            summary = {"dataset": dataset, "target": target, "feature_set": feature_set, "model": model,
                       "n_folds": 3, "r2": r2 - (0.2 if target == "valence" else 0), "r2_std": 0.05,
                       "tau": 0.1, "tau_std": 0.02, "mae": 0.2 - r2 / 10, "mae_std": 0.01}
            (folder / "cv_summary.json").write_text(json.dumps(summary))
            prediction = annotation + rng.normal(scale=0.5 - r2 / 2, size=annotation.shape)
            predictions_table(song_ids, annotation, prediction).to_csv(folder / "predictions.csv", index=False)
            paths.append(folder / "cv_summary.json")
    return paths


def test_family_groups():
    assert family_group("AT_64") == "AT single"
    assert family_group("BAT_2048_1024") == "BAT multi"
    assert family_group("TRANSFORMER_2") == "Transformer"


def test_best_model_per_group_by_mean_r2(tmp_path):
    summaries = load_summaries(fake_results(tmp_path))
    table = paper_layout_table(summaries, "arousal", "compare")
    assert table["family"].tolist() == ["LSTM single", "LSTM multi", "AT single", "AT multi"]
    rows = table.set_index("family")
    assert rows.loc["LSTM single", "best"] == "LSTM_16"
    assert rows.loc["LSTM single", "sizes searched"] == "8, 16"
    assert rows.loc["AT single", "R²"] == "0.50 ± 0.05"
    assert rows.loc["AT single", "paper R²"] == "0.75" and rows.loc["AT single", "ΔR²"] == "-0.25"


def test_ties_break_on_mae_then_name():
    summaries = pd.DataFrame({"model": ["AT_8", "AT_16", "AT_4"], "r2": [0.5, 0.5, np.nan],
                              "mae": [0.2, 0.1, 0.0]})
    assert select_best(summaries)["model"] == "AT_16"


def test_metrics_tree_is_nested_by_dataset_target_set_model(tmp_path):
    tree = metrics_tree(load_summaries(fake_results(tmp_path)))
    assert tree["synthetic"]["valence"]["compare"]["AT_8"]["r2"] == pytest.approx(0.30)
    assert set(tree["synthetic"]["arousal"]["compare"]["AT_8"]) == {"r2", "r2_std", "tau", "tau_std", "mae", "mae_std"}


def test_written_tables_say_which_dataset(tmp_path):
    paths = fake_results(tmp_path / "results")
    out = tmp_path / "reports"
    write_result_tables(paths, dataset="synthetic", table1_target="arousal", table1_feature_set="compare",
                        metrics_path=out / "metrics.json", summary_md=out / "all.md", summary_csv=out / "all.csv",
                        table1_md=out / "t1.md", table1_csv=out / "t1.csv")
    table1 = (out / "t1.md").read_text()
    assert "synthetic" in table1.splitlines()[0] and "NOT the paper's numbers" in table1
    assert "| AT single | 8 | AT_8 | 0.50 ± 0.05 |" in table1
    assert len(pd.read_csv(out / "all.csv")) == 2 * len(MODELS)
    assert json.loads((out / "metrics.json").read_text())["synthetic"]["arousal"]["compare"]["LSTM_8"]["r2"] == 0.3


def test_median_error_clip():
    table = predictions_table([1, 2, 3], np.zeros((3, 61)), np.array([[0.1] * 61, [0.3] * 61, [0.2] * 61]))
    assert median_error_clip(table) == 3


def test_figure1_is_a_valid_image(tmp_path):
    paths = fake_results(tmp_path / "results")
    png, pdf = tmp_path / "fig1.png", tmp_path / "fig1.pdf"
    clip = figure1_prediction(paths, dataset="synthetic", feature_set="compare",
                              targets=["arousal", "valence"], baseline_model="LSTM_8", clip=None,
                              png_path=png, pdf_path=pdf)
    assert clip in (3, 5, 8, 13)
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        width, height = image.size
    assert width > 600 and height > 400  # 3.4 in at 300 dpi, two panels
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000


def test_figure1_unknown_clip_is_a_clear_error(tmp_path):
    paths = fake_results(tmp_path / "results")
    with pytest.raises(ValueError, match="clip 999 has no out-of-fold predictions"):
        figure1_prediction(paths, dataset="synthetic", feature_set="compare", targets=["arousal"],
                           baseline_model="LSTM_8", clip=999, png_path=tmp_path / "a.png",
                           pdf_path=tmp_path / "a.pdf")
