"""End to end on DEAM as distributed: its annotation files with every quirk, no audio, its
shipped deam260 features, DEAM's own MediaEval 2015 split, then an exported bundle that
predicts a WAV through deam_features (the same 260 columns computed from audio)."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from workflow_helpers import MINIMAL, copy_repo, run, write_params

pytestmark = pytest.mark.slow


def test_deam_as_distributed_without_audio_trains_on_deam260_and_predicts_a_wav(tmp_path):
    from dataset_builders import DEAM_UNEQUAL_SHORT, deam_distributed_lengths, make_deam_distributed

    copy = make_deam_distributed(tmp_path / "DEAM", short=True, features=True)  # MEMD_audio/ empty
    repo = copy_repo(tmp_path / "repo")
    datasets = yaml.safe_load((repo / "params.yaml").read_text())["datasets"]
    datasets["deam"]["path"] = str(copy)
    write_params(repo, {**MINIMAL, "dataset": "deam", "datasets": datasets,
                        "cv": {"split": "mediaeval2015", "folds": 2, "validation_fraction": 0.25},
                        "grids": {"tiny": {"max_epochs": 1, "baseline_model": "AT_8", "experiments": [
                            {"name": "one", "feature_sets": ["deam260"], "models": ["AT_8"]}]}},
                        "report": {"table1": {"target": "arousal", "feature_set": "deam260"}},
                        "export": {"feature_set": "deam260"}})
    plan = run(["snakemake", "all", "export", "-n", "--quiet", "rules"], repo).stdout
    assert "plot_chromagrams" not in plan and "plot_attention_maps" in plan  # no rule asks for audio
    run(["snakemake", "--cores", "2", "train", "export"], repo)  # the report's figures: see plan

    lengths = {s: min(pair) for s, pair in deam_distributed_lengths(short=True).items()}
    import_log = (repo / "logs/deam/import_deam_dataset.log").read_text()
    assert "7 song(s) have one annotation sample more in one target" in import_log
    assert "swapped in the file and were exchanged back" in import_log
    assert "using 17 song(s)" in import_log
    notes = json.loads((repo / "results/deam/dataset_notes.json").read_text())
    assert notes["n_songs"] == 17
    assert any("annotated song(s) have no audio" in n and "not needed" in n for n in notes["notes"])
    assert any("Figure 5 (chromagrams) needs audio; skipped" in n for n in notes["notes"])

    folds = pd.read_csv(repo / "results/deam/folds.csv")  # MediaEval 2015: tested on 2001..2058
    assert sorted(folds.loc[folds["fold"] == 0, "song_id"]) == [s for s in lengths if s > 2000]
    predictions = pd.read_csv(repo / "results/deam/arousal/deam260/AT_8/predictions.csv")
    assert predictions.groupby("song_id").size().to_dict() == {s: n for s, n in lengths.items() if s > 2000}
    for song, (n_arousal, n_valence) in DEAM_UNEQUAL_SHORT.items():
        assert predictions.groupby("song_id").size()[song] == min(n_arousal, n_valence)

    bundles = list((repo / "models/deam/arousal/deam260").glob("*/card.json"))
    card = json.loads(bundles[0].read_text())
    assert card["feature_set"] == "deam260" and card["predict_feature_set"] == "deam_features"
    t = np.arange(int(3.2 * 22_050)) / 22_050
    sf.write(tmp_path / "song.wav", 0.3 * np.sin(2 * np.pi * 330 * t), 22_050)
    from mer.cli import main  # `mer predict`, in this process (a new one only adds start-up)
    assert main(["predict", str(tmp_path / "song.wav"), "--model", str(bundles[0].parent),
                 "--out", str(tmp_path / "out"), "-q"]) == 0
    curve = pd.read_csv(tmp_path / "out/song.csv")
    assert len(curve) == 6 and curve["arousal"].between(-1, 1).all()  # 3.2 s: 6 whole frames
    assert "Nothing to be done" in run(["snakemake", "-n", "train", "export"], repo).stdout
