"""End to end: the real Snakemake workflow and the real DVC commands on a tiny dataset.

Each test works in a temporary copy of the repository (its own git repo), with a params
file shrunk to a few songs, two folds and two epochs.
"""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_helpers import commit, copy_repo, run, write_params

pytestmark = pytest.mark.slow

TINY = {
    "synthetic": {"n_songs": 6, "within_song_std": 0.03},
    "features": {"shards": 2, "compare_mode": "per_segment"},
    "grid": "tiny",
    "grids": {"tiny": {"max_epochs": 2, "baseline_model": "LSTM_8", "experiments": [
        {"name": "families", "feature_sets": ["compare"], "models": ["LSTM_8", "AT_8", "MEAN", "RIDGE_SONG"]},
        {"name": "feature_sets", "feature_sets": ["spectral"], "models": ["AT_8"]}]}},
    "cv": {"folds": 2, "validation_fraction": 0.25},
}


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("mer"))
    write_params(repo, TINY)
    commit(repo, "tiny params")
    return repo


def test_invalid_params_stop_before_any_job(tmp_path):
    repo = copy_repo(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["grids"]["quick"]["experiments"][0]["models"] = ["AT_8", "GRU_8"]
    write_params(repo, {"grids": params["grids"]})
    result = run(["snakemake", "-n"], repo, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "`grids.quick.experiments[0].models[1]`" in output and "GRU_8" in output and "valid forms" in output
    assert not (repo / "data").exists()


def test_snakemake_then_dvc_repro(tiny_repo):
    repo = tiny_repo
    assert "Nothing to be done" not in run(["snakemake", "-n"], repo).stdout

    run(["snakemake", "--cores", "2"], repo)
    for output in ("reports/tables/table1.md", "reports/tables/cv_summary.md", "reports/metrics.json",
                   "reports/figures/fig1_prediction.png", "reports/figures/fig1_prediction.pdf"):
        assert (repo / output).stat().st_size > 0, output
    table1 = (repo / "reports/tables/table1.md").read_text()
    assert "synthetic" in table1 and "AT single" in table1 and "LSTM single" in table1
    assert len(list((repo / "results/synthetic").glob("*/*/*/seed0/fold*/model.pt"))) == 5 * 2 * 2  # 5 runs x 2 targets x 2 folds
    # the baseline block, both selections and the claims table with computed verdicts
    table1_csv = pd.read_csv(repo / "reports/tables/table1.csv")
    assert table1_csv["model"].tolist()[:2] == ["MEAN", "RIDGE_SONG"] and "by val loss: model" in table1_csv
    assert "Paper columns omitted: dataset 'synthetic'" in table1
    claims = pd.read_csv(repo / "reports/tables/claims.csv").set_index("id")
    assert claims.loc["C1 arousal vs BAT", "verdict"] == "not run"  # no BAT model in this grid
    assert set(claims.loc[["C1 arousal vs LSTM", "C1b arousal", "C2 arousal", "C3 valence", "C3b", "C4"], "verdict"]) <= {
        "supported", "not supported", "inconclusive"}  # computed, whatever they are
    assert "Holm" in (repo / "reports/tables/claims.md").read_text()
    assert "r2_within" in json.loads((repo / "reports/metrics.json").read_text())["synthetic"]["arousal"]["compare"]["MEAN"]
    assert "Nothing to be done" in run(["snakemake", "-n"], repo).stdout

    # DVC over the finished workflow: every stage runs its Snakemake target, nothing recomputes
    features = repo / "data/features/synthetic/compare.npy"
    features_mtime = features.stat().st_mtime_ns
    run(["dvc", "repro"], repo)
    assert (repo / "dvc.lock").is_file()
    assert features.stat().st_mtime_ns == features_mtime
    commit(repo, "first run")
    assert "didn't change" in run(["dvc", "repro"], repo).stdout

    # An experiment on a training parameter (`dvc exp run -S`): training and report rerun,
    # features stay cached
    model = next((repo / "results/synthetic").glob("arousal/spectral/AT_8/seed0/fold0/model.pt"))
    model_mtime = model.stat().st_mtime_ns
    experiment = run(["dvc", "exp", "run", "-S", "grids.tiny.max_epochs=4"], repo)
    output = experiment.stdout + experiment.stderr
    assert "Stage 'features' didn't change, skipping" in output
    assert "Running stage 'train'" in output and "Running stage 'report'" in output
    assert yaml.safe_load((repo / "params.yaml").read_text())["grids"]["tiny"]["max_epochs"] == 4
    assert features.stat().st_mtime_ns == features_mtime
    assert model.stat().st_mtime_ns != model_mtime

    diff = run(["dvc", "metrics", "diff", "--all"], repo).stdout
    assert "reports/metrics.json" in diff
    assert "synthetic.arousal.spectral.AT_8.r2" in diff
    assert ".r2" in run(["dvc", "metrics", "diff"], repo).stdout  # only changed ones without --all

    # Committed, the change reads as a diff between commits
    commit(repo, "4 epochs")
    assert "didn't change" in run(["dvc", "repro"], repo).stdout
    between_commits = run(["dvc", "metrics", "diff", "HEAD~1", "--all"], repo).stdout
    assert "synthetic.arousal.spectral.AT_8.r2" in between_commits
    assert "synthetic.valence.compare.LSTM_8.mae" in between_commits
    # without --all only what changed: early stopping may restore the same epoch for a
    # model (then its metrics are equal), but 4 epochs instead of 1 change some metric
    assert "synthetic." in run(["dvc", "metrics", "diff", "HEAD~1"], repo).stdout


def test_mediaeval2013_split_plans_one_test_fold_per_run(tmp_path):
    repo = copy_repo(tmp_path)
    write_params(repo, {"cv": {"split": "mediaeval2013"}})
    plan = run(["snakemake", "-n", "--quiet", "rules"], repo).stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in plan.splitlines()
              if line.startswith("train_")}
    params = yaml.safe_load((repo / "params.yaml").read_text())
    runs = {(s, m) for e in params["grids"]["quick"]["experiments"]
            for s in e["feature_sets"] for m in e["models"]}
    networks = {(s, m) for s, m in runs if m not in ("MEAN", "RIDGE", "RIDGE_SONG")}
    baseline_sets = {s for s, m in runs - networks}
    # one fold, not cv.folds: one job per network (both targets), one per set's baselines
    assert counts.pop("train_fold") == len(networks)
    assert counts == {f"train_baselines_{s}": 1 for s in baseline_sets}


def test_the_default_grid_extracts_three_sets_and_cuts_two_from_them(tmp_path):
    repo = copy_repo(tmp_path)
    plan = run(["snakemake", "-n", "--quiet", "rules"], repo).stdout
    counts = {line.split()[0]: int(line.split()[1]) for line in plan.splitlines()
              if line.split()[:1] and line.split()[0].endswith(("_features", "_feature_set",
                                                                 "_features_shard"))}
    shards = yaml.safe_load((repo / "params.yaml").read_text())["features"]["shards"]
    # compare, spectral and cqt from audio; chroma and chroma_cqt from their files
    assert counts == {"extract_features_shard": 3 * shards, "merge_features": 3,
                      "assemble_feature_set": 2}
    listed = run(["snakemake", "-n", "data/features/synthetic/chroma_cqt.npy"], repo).stdout
    assert "data/features/synthetic/shards/chroma_cqt" not in listed
    assert "data/features/synthetic/shards/cqt/shard0.npz" in listed


def test_an_assembled_set_is_cut_from_its_source_by_the_real_workflow(tmp_path):
    from mer.features import load_features

    repo = copy_repo(tmp_path)
    experiment = {"name": "one", "feature_sets": ["spectral", "chroma"], "models": ["LSTM_8"]}
    write_params(repo, {"synthetic": {"n_songs": 4}, "cv": {"folds": 2},
                        "features": {"shards": 1, "compare_mode": "per_segment"}, "grid": "two",
                        "grids": {"two": {"max_epochs": 1, "baseline_model": "LSTM_8",
                                          "experiments": [experiment]}},
                        "report": {"table1": {"target": "arousal", "feature_set": "spectral"}}})
    run(["snakemake", "--cores", "2", "features"], repo)
    assert (repo / "logs/synthetic/features/chroma/assemble.log").exists()
    assert not (repo / "logs/synthetic/features/chroma/shard0.log").exists()
    features = repo / "data/features/synthetic"
    spectral, chroma = (load_features(features / f"{name}.npy", features / f"{name}.json")
                        for name in ("spectral", "chroma"))
    columns = [spectral.columns.index(column) for column in chroma.columns]
    np.testing.assert_array_equal(np.asarray(chroma.values), np.asarray(spectral.values)[:, columns])
    assert chroma.feature_set == "chroma" and len(chroma.columns) == 24


def test_a_local_copy_in_the_real_layout_runs_end_to_end(tmp_path):
    # The user's own copy (`dataset: local`): the real annotation files' first rows, byte for
    # byte, with a 45 s clip per song; checked, imported, then the whole workflow.
    from dataset_builders import SAMPLE_IDS, make_emomusic_copy
    from workflow_helpers import MINIMAL

    copy = make_emomusic_copy(tmp_path / "my emoMusic copy", seconds=45.1)
    repo = copy_repo(tmp_path / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    write_params(repo, {**MINIMAL, "dataset": "local",
                        "datasets": {**params["datasets"], "local": {"path": str(copy)}}})
    run(["snakemake", "--cores", "2"], repo)

    assert sorted(int(p.stem) for p in (repo / "data/raw/local/clips_45seconds").glob("*.mp3")) == SAMPLE_IDS
    table1 = (repo / "reports/tables/table1.md").read_text()
    assert "dataset: local" in table1 and "synthetic" not in table1
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics) == {"local"} and "LSTM_8" in metrics["local"]["arousal"]["spectral"]
    predictions = (repo / "results/local/arousal/spectral/LSTM_8/predictions.csv").read_text().splitlines()
    assert len(predictions) == 1 + len(SAMPLE_IDS) * 61  # every song out of fold once, 61 frames
    assert "Nothing to be done" in run(["snakemake", "-n"], repo).stdout


def test_deam_with_variable_lengths_and_its_own_features_runs_end_to_end(tmp_path):
    # `dataset: deam`: an unzipped DEAM copy whose songs differ in length (a full song is
    # longer than the excerpts), trained on a computed set and on DEAM's shipped deam260.
    from dataset_builders import make_deam_copy
    from workflow_helpers import MINIMAL

    lengths = {2: 6, 3: 7, 4: 6, 5: 8, 2001: 12, 2002: 10}
    copy = make_deam_copy(tmp_path / "DEAM", lengths=lengths, audio_seconds=21.0, features=True)
    repo = copy_repo(tmp_path / "repo")
    datasets = yaml.safe_load((repo / "params.yaml").read_text())["datasets"]
    datasets["deam"]["path"] = str(copy)
    write_params(repo, {**MINIMAL, "dataset": "deam", "datasets": datasets,
                        "grids": {"tiny": {"max_epochs": 1, "baseline_model": "AT_8", "experiments": [
                            {"name": "one", "feature_sets": ["spectral", "deam260"], "models": ["AT_8"]}]}}})
    run(["snakemake", "--cores", "2"], repo)

    for feature_set in ("spectral", "deam260"):
        predictions = pd.read_csv(repo / f"results/deam/arousal/{feature_set}/AT_8/predictions.csv")
        assert predictions.groupby("song_id").size().to_dict() == lengths  # every real frame, no padding
        assert predictions["prediction"].notna().all()
        assert predictions.groupby("song_id")["time_s"].max().to_dict() == {s: 15 + (n - 1) / 2 for s, n in lengths.items()}
    from mer.cv import load_song_attention
    with np.load(repo / "results/deam/arousal/deam260/AT_8/seed0/fold0/attention.npz") as attention:
        assert attention["weights"].size == (attention["lengths"] ** 2).sum()  # no padding stored
        for song, n in zip(attention["song_ids"], attention["lengths"]):
            assert n == lengths[song]
            matrix = load_song_attention(attention, song)
            assert matrix.shape == (n, n)
            np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-5)
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics["deam"]["arousal"]) == {"spectral", "deam260"}
    assert "dataset: deam" in (repo / "reports/tables/table1.md").read_text()
    assert "Nothing to be done" in run(["snakemake", "-n"], repo).stdout


def test_deam_without_a_copy_plans_the_downloads(tmp_path):
    # `dataset: deam` with no `datasets.deam.path`: the archives are downloaded, features.zip
    # only when a grid uses deam260.
    repo = copy_repo(tmp_path)
    write_params(repo, {"dataset": "deam"})
    plan = run(["snakemake", "dataset", "-n", "--quiet", "rules"], repo).stdout
    assert "download_archive" in plan and "import_deam_dataset" in plan
    listed = run(["snakemake", "dataset", "-n"], repo).stdout
    assert "data/raw/deam-archives/DEAM_audio.zip" in listed and "features.zip" not in listed
