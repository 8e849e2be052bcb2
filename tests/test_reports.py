import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mer.cv import predictions_table
from mer.reports.comparison import write_paired_comparison
from mer.reports.dvc_plots import write_dvc_plots
from mer.reports.figures import (
    choose_clips,
    clip_chromagram,
    figure1_prediction,
    figure2_error_histograms,
    figure4_attended_frames,
    figure5_chromagrams,
    figure_attention_maps,
    load_attention,
    median_error_clip,
    most_attended_frames,
)
from mer.reports.paper import r2_upper_bound
from mer.reports.summaries import METRICS_FILE_KEYS
from mer.reports.table_files import write_result_tables
from mer.reports.tables import (
    family_group,
    load_summaries,
    metrics_tree,
    paper_layout_table,
    select_best,
)

MODELS = {"LSTM_8": 0.30, "LSTM_16": 0.35, "LSTM_8_4": 0.20, "AT_8": 0.50, "AT_16_8": 0.45, "BAT_8": 0.25,
          "MEAN": -0.01, "RIDGE_SONG": 0.40}
NETWORKS = {m: r2 for m, r2 in MODELS.items() if m not in ("MEAN", "RIDGE_SONG")}
SONGS = [3, 5, 8, 13, 21, 34]
FOLDS = {3: 0, 5: 1, 8: 2, 13: 0, 21: 1, 34: 2}


def _attention(rng, n, lower):
    scores = rng.normal(size=(n, 61, 61))
    if lower:  # BAT: frame t attends to frames before t only (frame 0 to itself)
        mask = np.tril(np.ones((61, 61), bool), k=-1)
        mask[0, 0] = True
        scores = np.where(mask, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def fake_results(root, dataset="synthetic", targets=("arousal", "valence"), feature_set="compare", models=None,
                 val_loss=None):
    """Summaries, out-of-fold predictions and fold files laid out as the workflow writes them."""
    rng = np.random.default_rng(0)
    paths = []
    annotation = rng.uniform(-0.5, 0.5, size=(len(SONGS), 61))
    for target in targets:
        for model, r2 in (models or MODELS).items():
            folder = root / target / feature_set / model
            folder.mkdir(parents=True)
            mean_r2 = r2 - (0.2 if target == "valence" else 0)
            fold_r2 = mean_r2 + np.array([-0.05, 0.0, 0.05])
            summary = {"dataset": dataset, "target": target, "feature_set": feature_set, "model": model,
                       "n_folds": 3, "r2": mean_r2, "r2_std": 0.05, "r2_pooled": mean_r2 + 0.01,
                       "r2_within": mean_r2 / 2, "r2_within_std": 0.04,
                       "tau": 0.1, "tau_std": 0.02, "mae": 0.2 - r2 / 10, "mae_std": 0.01,
                       "rmse": 0.25 - r2 / 10, "rmse_std": 0.01, "pearson_r": 0.5, "pearson_r_std": 0.1,
                       # validation loss ranks sizes like R² except where `val_loss` overrides it
                       "val_loss": (val_loss or {}).get(model, 1 - r2), "val_loss_std": 0.01,
                       "baseline": model in ("MEAN", "RIDGE", "RIDGE_SONG"),
                       "folds": [{"fold": k, "r2": float(v)} for k, v in enumerate(fold_r2)]}
            (folder / "cv_summary.json").write_text(json.dumps(summary))
            prediction = annotation + rng.normal(scale=0.5 - r2 / 2, size=annotation.shape)
            table = predictions_table(SONGS, annotation, prediction)
            table["fold"] = table["song_id"].map(FOLDS)
            table.to_csv(folder / "predictions.csv", index=False)
            family = model.split("_")[0]
            for fold in range(3):
                fold_dir = folder / "seed0" / f"fold{fold}"
                fold_dir.mkdir(parents=True)
                ids = np.array([s for s in SONGS if FOLDS[s] == fold])
                weights = (_attention(rng, len(ids), family == "BAT") if family in ("AT", "BAT")
                           else np.zeros((0, 0, 0), np.float32))
                np.savez_compressed(fold_dir / "attention.npz", song_ids=ids, weights=weights,
                                    has_attention=np.array(family in ("AT", "BAT")))
                epochs = 3 + fold
                pd.DataFrame({"epoch": np.arange(1, epochs + 1), "train_loss": 0.2 / np.arange(1, epochs + 1),
                              "val_loss": 0.25 / np.arange(1, epochs + 1), "seconds": 0.1,
                              "improved": True}).to_csv(fold_dir / "history.csv", index=False)
            paths.append(folder / "cv_summary.json")
    return paths


@pytest.fixture
def low_dpi(monkeypatch):
    """PNGs at 100 dpi: the same figures, a third of the pixels to render (tests only)."""
    from mer.reports import figures
    monkeypatch.setattr(figures, "DPI", 100)


def assert_image(png, pdf, min_width=500, min_height=200):
    """A valid PNG of at least the given pixel size (at 100 dpi) and a non-trivial PDF twin."""
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    assert width >= min_width and height >= min_height, (width, height)
    assert pixels.std() > 10  # something drawn, not a blank canvas
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000


def test_family_groups():
    assert family_group("AT_64") == "AT single"
    assert family_group("BAT_2048_1024") == "BAT multi"
    assert family_group("TRANSFORMER_2") == "Transformer"


def test_best_model_per_group_by_mean_r2(tmp_path):
    summaries = load_summaries(fake_results(tmp_path))
    table, footnotes = paper_layout_table(summaries, "arousal", "compare")
    assert table["family"].tolist() == ["Baseline", "Baseline", "LSTM single", "LSTM multi", "AT single",
                                        "AT multi", "BAT single"]
    assert table["model"].tolist()[:2] == ["MEAN", "RIDGE_SONG"] and footnotes == []
    rows = table.set_index("model")
    assert rows.loc["MEAN", "selection"] == "– (one configuration)" and rows.loc["MEAN", "paper R²"] == "–"
    rows = table[table["family"] != "Baseline"].set_index("family")
    assert rows.loc["LSTM single", "model"] == "LSTM_16"
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
    assert set(tree["synthetic"]["arousal"]["compare"]["AT_8"]) == set(METRICS_FILE_KEYS)
    assert tree["synthetic"]["arousal"]["compare"]["AT_8"]["r2_pooled"] == pytest.approx(0.51)
    assert tree["synthetic"]["arousal"]["compare"]["RIDGE_SONG"]["r2_within"] == pytest.approx(0.20)


def test_written_tables_say_which_dataset(tmp_path):
    paths = fake_results(tmp_path / "results")
    out = tmp_path / "reports"
    write_result_tables(paths, dataset="synthetic", table1_target="arousal", table1_feature_set="compare",
                        metrics_path=out / "metrics.json", summary_md=out / "all.md", summary_csv=out / "all.csv",
                        table1_md=out / "t1.md", table1_csv=out / "t1.csv")
    table1 = (out / "t1.md").read_text()
    assert "synthetic" in table1.splitlines()[0] and "NOT the paper's numbers" in table1
    assert "| AT single | 8 | test R² (paper's; optimistic) | AT_8 | 0.50 ± 0.05 | 0.51 | 0.25 ± 0.04 |" in table1
    assert "| Baseline | – | – (one configuration) | RIDGE_SONG | 0.40 ± 0.05 |" in table1
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
    assert clip in SONGS
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


PAPER_CV = {"split": "kfold", "folds": 10, "validation_fraction": 0.1}


def _tables(tmp_path, paths, dataset="synthetic", cv=None, dataset_notes=None):
    out = tmp_path / "reports"
    more = {n: (out / f"t{n}.md", out / f"t{n}.csv") for n in (2, 3, 4)}
    write_result_tables(paths, dataset=dataset, table1_target="arousal", table1_feature_set="compare",
                        baseline_model="LSTM_8", metrics_path=out / "metrics.json",
                        best_models_path=out / "best.json", summary_md=out / "all.md",
                        summary_csv=out / "all.csv", table1_md=out / "t1.md", table1_csv=out / "t1.csv",
                        more_tables=more, cv=PAPER_CV if cv is None else cv, dataset_notes=dataset_notes)
    return out


def test_table2_on_emomusic_10_fold_has_paper_differences(tmp_path):
    out = _tables(tmp_path, fake_results(tmp_path / "results", dataset="emomusic"), dataset="emomusic")
    table2 = pd.read_csv(out / "t2.csv")
    assert table2["family"].tolist()[:3] == ["Baseline", "Baseline", "Baseline LSTM"]
    table2 = table2[table2["family"] != "Baseline"].set_index("family")
    assert table2.loc["Baseline LSTM", "model"] == "LSTM_8"
    assert table2.loc["Baseline LSTM", "paper R²"] == "0.29"  # Weninger et al.'s LSTM_400, valence
    assert table2.loc["AT single", "R²"] == "0.30 ± 0.05"  # valence is 0.2 below arousal in fake data
    assert table2.loc["AT single", "paper R²"] == "0.53" and table2.loc["AT single", "ΔR²"] == "-0.23"
    assert table2.loc["AT single", "paper MAE"] == "0.16" and table2.loc["AT single", "ΔMAE"] == "-0.01"
    text = (out / "t2.md").read_text()
    assert text.startswith("# Table 2 layout — valence, compare features — dataset: emomusic")
    assert "Paper columns: Chaki et al. (ISMIR 2020), emoMusic, 10-fold CV" in text


@pytest.mark.parametrize("dataset, cv, why", [
    ("synthetic", PAPER_CV, "dataset 'synthetic' is not emoMusic"),
    ("deam", PAPER_CV, "dataset 'deam' is not emoMusic"),
    ("emomusic", {"split": "kfold", "folds": 5}, "`cv.folds: 5`, the paper used 10-fold CV"),
    ("local", {"split": "mediaeval2013", "folds": 10}, "`cv.split: mediaeval2013` is not the paper's protocol"),
])
def test_paper_columns_only_for_emomusic_with_10_folds(tmp_path, dataset, cv, why):
    out = _tables(tmp_path, fake_results(tmp_path / "results", dataset=dataset), dataset=dataset, cv=cv)
    for number in (1, 2, 3):
        columns = pd.read_csv(out / f"t{number}.csv").columns
        assert not any(c.startswith(("paper", "Δ")) for c in columns), (number, list(columns))
    assert f"Paper columns omitted: {why}" in (out / "t1.md").read_text()


def test_tables_give_both_selections_and_the_baseline_block(tmp_path):
    # validation loss prefers LSTM_8 (test R² prefers LSTM_16) and AT_16_8 (test R²: AT_8)
    paths = fake_results(tmp_path / "results", val_loss={"LSTM_8": 0.1, "AT_16_8": 0.2})
    out = _tables(tmp_path, paths, dataset_notes={"n_songs": 6, "notes": ["audio missing for song 7"]})
    table1 = pd.read_csv(out / "t1.csv")
    block = table1[table1["family"] == "Baseline"]
    assert block["model"].tolist() == ["MEAN", "RIDGE_SONG"] and set(block["selection"]) == {"– (one configuration)"}
    rows = table1[table1["family"] != "Baseline"].set_index("family")
    assert rows.loc["LSTM single", "model"] == "LSTM_16" and rows.loc["LSTM single", "by val loss: model"] == "LSTM_8"
    assert rows.loc["LSTM single", "by val loss: R²"] == "0.30 ± 0.05"
    assert rows.loc["AT single", "model"] == "AT_8" and rows.loc["AT single", "by val loss: model"] == "AT_8"
    assert rows.loc["AT multi", "by val loss: model"] == "AT_16_8"
    assert set(rows.drop("Baseline LSTM")["selection"]) == {"test R² (paper's; optimistic)"}
    for column in ("R²", "pooled R²", "within-song R²", "τ̄", "MAE"):
        assert column in table1.columns
    text = (out / "t1.md").read_text()
    assert "optimistic" in text and "lowest mean validation loss" in text and "audio missing for song 7" in text
    every = pd.read_csv(out / "all.csv")
    arousal = every[(every["target"] == "arousal")]
    assert arousal["model"].tolist()[:2] == ["MEAN", "RIDGE_SONG"]  # baselines first
    picks = arousal.set_index("model")["selected by"]
    assert picks["LSTM_16"] == "test R²" and picks["LSTM_8"] == "val loss" and picks["AT_8"] == "test R², val loss"
    assert "audio missing for song 7" in (out / "all.md").read_text()
    metrics = json.loads((out / "metrics.json").read_text())["synthetic"]
    assert metrics["dataset_notes"] == {"n_songs": 6, "notes": ["audio missing for song 7"]}
    table3 = pd.read_csv(out / "t3.csv")  # no smaller set trained: Table 3 is a note
    assert table3.empty


def test_impossible_paper_row_is_footnoted_with_its_computed_bound(tmp_path):
    models = {"AT_8": 0.5, "TRANSFORMER_1": 0.4, "MEAN": 0.0}
    out = _tables(tmp_path, fake_results(tmp_path / "results", dataset="emomusic", models=models),
                  dataset="emomusic")
    table1 = pd.read_csv(out / "t1.csv").set_index("family")
    assert table1.loc["Transformer", "paper R²"] == "0.64 †" and table1.loc["AT single", "paper R²"] == "0.75"
    std = pd.read_csv(tmp_path / "results/arousal/compare/AT_8/predictions.csv")["annotation"].std(ddof=0)
    bound = r2_upper_bound(0.27, std)
    assert 0 < bound < 0.64
    text = (out / "t1.md").read_text()
    assert (f"† paper's Transformer row: R² 0.64 with MAE 0.27 is impossible" in text
            and f"= {bound:.2f} (std of this run's arousal annotations: {std:.3f})" in text)


def test_tables_3_4_skip_untrained_feature_sets_with_a_note(tmp_path):
    paths = fake_results(tmp_path / "results")  # compare only: no smaller feature set
    paths += fake_results(tmp_path / "results", targets=("arousal",), feature_set="spectral",
                          models={"AT_8": 0.6, "AT_16": 0.62, "LSTM_8": 0.5})
    out = _tables(tmp_path, paths)
    table3 = pd.read_csv(out / "t3.csv")
    assert table3["set"].tolist() == ["spectral"] and table3.loc[0, "model"] == "AT_16"
    assert table3.loc[0, "dims"] == 197 and table3.loc[0, "sizes searched"] == "8, 16"
    assert not any(c.startswith("paper") for c in table3.columns)  # synthetic: not comparable
    text3 = (out / "t3.md").read_text()
    assert "arousal, single-layer AT" in text3.splitlines()[0] and "chroma, cqt, chroma_cqt" in text3
    text4 = (out / "t4.md").read_text()  # valence was trained on compare only
    assert "Skipped" in text4 and "synthetic" in text4.splitlines()[0]
    assert pd.read_csv(out / "t4.csv").empty


def test_table3_paper_columns_and_baselines_on_emomusic(tmp_path):
    paths = fake_results(tmp_path / "results", dataset="emomusic", targets=("arousal",), feature_set="spectral",
                         models={"AT_8": 0.6, "AT_16": 0.62, "LSTM_8": 0.5, "RIDGE": 0.55})
    out = _tables(tmp_path, paths, dataset="emomusic")
    table3 = pd.read_csv(out / "t3.csv")
    assert table3["model"].tolist() == ["AT_16", "RIDGE"] and table3.loc[1, "features"] == "Baseline: Spectral"
    assert table3.loc[0, "paper R²"] == "0.70" and table3.loc[0, "ΔR²"] == "-0.08"


def test_untrained_table_target_is_a_note_not_an_error(tmp_path):
    out = _tables(tmp_path, fake_results(tmp_path / "results", targets=("arousal",)))
    assert "Skipped: no model was trained for target 'valence'" in (out / "t2.md").read_text()
    assert "| AT single |" in (out / "t1.md").read_text()


def test_best_models_metrics_file(tmp_path):
    out = _tables(tmp_path, fake_results(tmp_path / "results"))
    best = json.loads((out / "best.json").read_text())["synthetic"]["arousal"]["compare"]
    assert best["LSTM single"]["model"] == "LSTM_16" and best["AT multi"]["r2"] == pytest.approx(0.45)
    assert set(best) == {"Baseline", "LSTM single", "LSTM multi", "AT single", "AT multi", "BAT single"}
    assert best["Baseline"]["model"] == "RIDGE_SONG" and best["AT single"]["by_val_loss"]["model"] == "AT_8"


def test_paired_comparison_matches_scipy_and_sklearn(tmp_path):
    from scipy.stats import t as student_t
    from sklearn.metrics import r2_score

    paths = fake_results(tmp_path / "results", targets=("arousal",))
    # uneven per-fold R² so the t-test has variance to work with
    for path, offsets in ((paths[3], [0.10, 0.0, 0.02]), (paths[1], [0.0, 0.01, 0.05])):
        summary = json.loads(path.read_text())
        summary["folds"] = [{"fold": k, "r2": summary["r2"] + o} for k, o in enumerate(offsets)]
        path.write_text(json.dumps(summary))
    md, csv = tmp_path / "pc.md", tmp_path / "pc.csv"
    table = write_paired_comparison(paths, dataset="synthetic", md_path=md, csv_path=csv, n_resamples=500, seed=1)
    rows = table.set_index("vs")
    assert list(rows.index) == ["LSTM_16", "BAT_8", "RIDGE_SONG"] and set(rows["AT"]) == {"AT_8"}
    at = np.array([0.60, 0.50, 0.52])
    lstm = np.array([0.35, 0.36, 0.40])
    d = at - lstm
    assert rows.loc["LSTM_16", "mean ΔR² (folds)"] == pytest.approx(np.mean(d))
    # Nadeau–Bengio: 3 folds of 2 test songs, 4 training songs each: variance × (1/3 + 2/4)
    assert rows.loc["LSTM_16", "n_test"] == 2 and rows.loc["LSTM_16", "n_train"] == 4
    t = d.mean() / np.sqrt((1 / 3 + 2 / 4) * d.var(ddof=1))
    assert rows.loc["LSTM_16", "corrected t p"] == pytest.approx(2 * student_t.sf(abs(t), 2))
    assert rows.loc["LSTM_16", "Wilcoxon p"] == pytest.approx(0.25)  # 3 positive differences, exact
    raw = table["corrected t p"].to_numpy()
    assert (table["corrected t p (Holm)"].to_numpy() >= raw - 1e-12).all()
    assert table["corrected t p (Holm)"].min() == pytest.approx(3 * raw.min())  # Holm: smallest p × m
    a = pd.read_csv(paths[3].with_name("predictions.csv"))
    b = pd.read_csv(paths[1].with_name("predictions.csv"))
    expected = r2_score(a["annotation"], a["prediction"]) - r2_score(b["annotation"], b["prediction"])
    row = rows.loc["LSTM_16"]
    assert row["ΔR² (pooled)"] == pytest.approx(expected)
    assert row["CI low"] < expected < row["CI high"] and row["songs"] == len(SONGS)
    again = write_paired_comparison(paths, dataset="synthetic", md_path=md, csv_path=csv, n_resamples=500, seed=1)
    assert again["CI low"].tolist() == table["CI low"].tolist()  # seeded
    text = md.read_text()
    assert "synthetic" in text.splitlines()[0] and "| arousal | compare | AT_8 | LSTM_16 | 3 | 2.0 / 4.0 | 6 |" in text
    assert "conditional on the trained models" in text and "Holm" in text


def test_paired_comparison_without_at_is_a_note(tmp_path):
    paths = fake_results(tmp_path / "results", models={"LSTM_8": 0.3, "BAT_8": 0.2})
    table = write_paired_comparison(paths, dataset="synthetic", md_path=tmp_path / "pc.md",
                                    csv_path=tmp_path / "pc.csv", n_resamples=100)
    assert table.empty and "Skipped" in (tmp_path / "pc.md").read_text()


def test_choose_clips_and_most_attended_frames():
    errors = [0.5, 0.1, 0.3, 0.2, 0.4, 0.6, 0.05]
    table = predictions_table(range(1, 8), np.zeros((7, 61)), np.array([[e] * 61 for e in errors]))
    assert choose_clips(table, n=3) == [3, 4, 5]  # errors 0.3, 0.2, 0.4: around the median
    assert choose_clips(table, n=10) == list(range(1, 8))
    weights = np.full((61, 61), 1 / 61)
    weights[:, [7, 30]] += 0.5
    assert most_attended_frames(weights, k=2).tolist() == [7, 30]


def test_figure2_error_histograms(tmp_path, low_dpi):
    paths = fake_results(tmp_path / "results")
    png, pdf = tmp_path / "fig2.png", tmp_path / "fig2.pdf"
    figure2_error_histograms(paths, dataset="synthetic", feature_set="compare", targets=["arousal", "valence"],
                             baseline_model="LSTM_8", png_path=png, pdf_path=pdf)
    assert_image(png, pdf)


def test_figures_3_4_6_attention(tmp_path, low_dpi):
    paths = fake_results(tmp_path / "results")
    common = {"dataset": "synthetic", "feature_set": "compare", "targets": ["arousal", "valence"]}
    clips = figure_attention_maps(paths, clips=None, family="AT", png_path=tmp_path / "f3.png",
                                  pdf_path=tmp_path / "f3.pdf", **common)
    assert len(clips) == 4 and set(clips) <= set(SONGS)
    assert_image(tmp_path / "f3.png", tmp_path / "f3.pdf")
    assert figure4_attended_frames(paths, clips=[5, 21], png_path=tmp_path / "f4.png",
                                   pdf_path=tmp_path / "f4.pdf", **common) == [5, 21]
    assert_image(tmp_path / "f4.png", tmp_path / "f4.pdf")
    figure_attention_maps(paths, clips=clips, family="BAT", png_path=tmp_path / "f6.png",
                          pdf_path=tmp_path / "f6.pdf", **common)
    assert_image(tmp_path / "f6.png", tmp_path / "f6.pdf")


def test_attention_of_the_clip_comes_from_its_test_fold(tmp_path):
    paths = fake_results(tmp_path / "results", targets=("arousal",))
    at = paths[3]
    with np.load(at.parent / "seed0" / "fold1" / "attention.npz") as data:
        expected = data["weights"][list(data["song_ids"]).index(21)]
    np.testing.assert_allclose(load_attention(at, 21), expected)
    with pytest.raises(ValueError, match="stores no attention"):
        load_attention(paths[0], 21)


def test_unknown_attention_clip_is_a_clear_error(tmp_path, low_dpi):
    paths = fake_results(tmp_path / "results")
    with pytest.raises(ValueError, match=r"`report.attention_clips`: clips \[999\]"):
        figure_attention_maps(paths, dataset="synthetic", feature_set="compare", targets=["arousal"], clips=[3, 999],
                              family="AT", png_path=tmp_path / "a.png", pdf_path=tmp_path / "a.pdf")


def test_figure5_chromagram_of_real_audio(tmp_path, low_dpi):
    import soundfile

    paths = fake_results(tmp_path / "results", targets=("arousal",))
    raw = tmp_path / "raw"
    (raw / "clips_45seconds").mkdir(parents=True)
    sr = 22050  # load_audio resamples to 44.1 kHz, as for any clip
    t = np.arange(46 * sr) / sr
    tone = np.where(t < 30, np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 261.63 * t))  # A, then C
    soundfile.write(raw / "clips_45seconds" / "8.mp3", (0.3 * tone).astype(np.float32), sr, format="MP3")
    chroma = clip_chromagram(raw / "clips_45seconds" / "8.mp3")
    assert chroma.shape[0] == 12 and 280 <= chroma.shape[1] <= 610  # 30.5 s at 50 ms hops
    assert chroma[9, :100].mean() > 0.9 and chroma[0, -100:].mean() > 0.9  # A first, C at the end
    png, pdf = tmp_path / "f5.png", tmp_path / "f5.pdf"
    assert figure5_chromagrams(paths, dataset="synthetic", raw_root=raw, feature_set="compare",
                               targets=["arousal"], clips=[8], png_path=png, pdf_path=pdf) == [8]
    assert_image(png, pdf, min_width=300, min_height=100)


def test_dvc_plot_series(tmp_path):
    paths = fake_results(tmp_path / "results", targets=("arousal",), models={"LSTM_8": 0.3, "AT_8": 0.5})
    histories = sorted((tmp_path / "results").glob("*/*/*/seed*/fold*/history.csv"))
    clip = write_dvc_plots(paths, histories, out_dir=tmp_path / "plots", clip=None, clip_target="arousal",
                           clip_feature_set="compare")
    curve = pd.read_csv(tmp_path / "plots" / "learning_curves" / "arousal" / "compare" / "AT_8.csv")
    assert curve["epoch"].tolist() == [1, 2, 3, 4, 5] and curve["folds"].tolist() == [3, 3, 3, 2, 1]
    assert curve.loc[0, "val_loss"] == pytest.approx(0.25)
    series = pd.read_csv(tmp_path / "plots" / "predictions" / "arousal" / "compare" / "LSTM_8.csv")
    assert list(series.columns) == ["time_s", "annotation", "prediction"] and len(series) == 61
    assert clip in SONGS
    with pytest.raises(ValueError, match="no history.csv files"):
        write_dvc_plots(paths, histories[:3], out_dir=tmp_path / "p2", clip=3, clip_target="arousal",
                        clip_feature_set="compare")
