"""Claims on crafted fold metrics and attention: each gives the verdict planted in its data."""

import json

import numpy as np
import pandas as pd
import pytest

from mer.cv import predictions_table
from mer.reports.claims import (
    INCONCLUSIVE,
    NOT_RUN,
    NOT_SUPPORTED,
    SUPPORTED,
    ClaimSettings,
    claims_table,
    evaluate_claims,
    normalised_entropy,
    write_claims,
)
from mer.reports.tables import load_summaries

N_FOLDS, SONGS_PER_FOLD, T = 10, 2, 61
SONGS = list(range(1, N_FOLDS * SONGS_PER_FOLD + 1))
FOLD_OF = {song: (song - 1) % N_FOLDS for song in SONGS}


def _annotations(rng):
    """Per song: a piecewise-constant curve with a few jumps (so |Δ| marks a few frames)."""
    curves = {}
    for song in SONGS:
        steps = np.zeros(T)
        steps[rng.choice(np.arange(5, T - 5), size=4, replace=False)] = rng.uniform(0.1, 0.3, 4) * rng.choice([-1, 1], 4)
        curves[song] = np.cumsum(steps) + 0.01 * rng.normal(size=T)
    return curves


def _attention(kind, annotation, rng):
    if kind == "change":  # every frame attends to where the annotation changes
        received = np.r_[1e-3, np.abs(np.diff(annotation)) + 1e-3]
    elif kind == "uniform":
        received = np.ones(T)
    else:  # "focused": two frames take almost everything
        received = np.full(T, 1e-3)
        received[rng.choice(T, 2, replace=False)] = 1.0
    row = received / received.sum()
    return np.tile(row, (T, 1)).astype(np.float32)


def crafted_run(root, fold_r2: dict, attention: dict | None = None, seed=0):
    """cv_summary.json, predictions.csv and attention.npz laid out as the workflow writes
    them. ``fold_r2``: (target, feature set, model) -> per-fold R²; ``attention``:
    (target, feature set, model) -> "change" | "uniform" | "focused" (AT models)."""
    rng = np.random.default_rng(seed)
    curves = {target: _annotations(rng) for target in ("arousal", "valence")}
    paths = []
    for (target, feature_set, model), values in fold_r2.items():
        folder = root / target / feature_set / model
        folder.mkdir(parents=True)
        values = np.asarray(values, float)
        baseline = model in ("MEAN", "RIDGE", "RIDGE_SONG")
        summary = {"dataset": "synthetic", "target": target, "feature_set": feature_set, "model": model,
                   "n_folds": N_FOLDS, "n_seeds": 1, "r2": values.mean(), "r2_std": values.std(ddof=1),
                   "r2_pooled": values.mean(), "r2_within": 0.0, "r2_within_std": 0.0, "tau": 0.1, "tau_std": 0.01,
                   "mae": 0.2, "mae_std": 0.01, "rmse": 0.25, "rmse_std": 0.01, "pearson_r": 0.5, "pearson_r_std": 0.1,
                   "val_loss": 1 - values.mean(), "val_loss_std": 0.01, "baseline": baseline,
                   "folds": [{"fold": k, "seed_index": 0, "r2": float(v)} for k, v in enumerate(values)]}
        (folder / "cv_summary.json").write_text(json.dumps(summary))
        annotation = np.array([curves[target][s] for s in SONGS])
        table = predictions_table(SONGS, annotation, annotation + 0.05)
        table["fold"] = table["song_id"].map(FOLD_OF)
        table.to_csv(folder / "predictions.csv", index=False)
        kind = (attention or {}).get((target, feature_set, model))
        for fold in range(N_FOLDS):
            fold_dir = folder / "seed0" / f"fold{fold}"
            fold_dir.mkdir(parents=True)
            ids = np.array([s for s in SONGS if FOLD_OF[s] == fold])
            weights = (np.stack([_attention(kind, curves[target][s], rng) for s in ids]) if kind
                       else np.zeros((0, 0, 0), np.float32))
            np.savez_compressed(fold_dir / "attention.npz", song_ids=ids, weights=weights,
                                lengths=np.full(len(ids), T), has_attention=np.array(kind is not None))
        paths.append(folder / "cv_summary.json")
    return paths


def planted(rng, c3_attention="change"):
    at = 0.6 + rng.normal(0, 0.02, N_FOLDS)
    noise = rng.normal(0, 0.1, N_FOLDS)
    fold_r2 = {}
    for target, shift in (("arousal", 0.0), ("valence", -0.3)):
        fold_r2.update({
            (target, "compare", "AT_8"): at + shift,
            (target, "compare", "LSTM_8"): at + shift - 0.2 + rng.normal(0, 0.01, N_FOLDS),  # AT better
            (target, "compare", "BAT_8"): at + shift + 0.2 + rng.normal(0, 0.01, N_FOLDS),   # AT worse
            (target, "compare", "TRANSFORMER_1"): at + shift + noise - noise.mean(),       # no difference
            (target, "compare", "MEAN"): rng.normal(-0.02, 0.01, N_FOLDS),
            (target, "compare", "RIDGE"): at + shift - 0.3 + rng.normal(0, 0.01, N_FOLDS),
        })
    # spectral within ±0.01 of ComParE for the single-layer AT: on par
    fold_r2[("arousal", "spectral", "AT_8")] = at + 0.005 + rng.normal(0, 0.003, N_FOLDS)
    attention = {("arousal", "compare", "AT_8"): "focused", ("valence", "compare", "AT_8"): c3_attention}
    return fold_r2, attention


SETTINGS = ClaimSettings(feature_set="compare", alpha=0.05, equivalence_margin_r2=0.05, selection="validation",
                         permutations=999, seed=1)


def _verdicts(paths):
    return {c.id: c for c in evaluate_claims(load_summaries(paths), SETTINGS)}


def test_claims_give_the_planted_verdicts(tmp_path):
    fold_r2, attention = planted(np.random.default_rng(0))
    claims = _verdicts(crafted_run(tmp_path, fold_r2, attention))
    assert claims["C1 arousal vs LSTM"].verdict == SUPPORTED
    assert claims["C1 arousal vs BAT"].verdict == NOT_SUPPORTED
    assert claims["C1 arousal vs Transformer"].verdict == INCONCLUSIVE
    assert claims["C1 arousal vs LSTM"].effect == pytest.approx(0.2, abs=0.02)
    assert claims["C1b arousal"].verdict == SUPPORTED  # best network (BAT_8) beats RIDGE by ~0.5
    assert "BAT_8" in claims["C1b arousal"].compared and "RIDGE " in claims["C1b arousal"].compared
    assert claims["C2 arousal"].verdict == SUPPORTED and abs(claims["C2 arousal"].effect) < 0.02
    assert claims["C3 valence"].verdict == SUPPORTED and claims["C3 valence"].extra["observed_r"] > 0.9
    assert claims["C3b"].verdict == SUPPORTED and claims["C3b"].effect > 0.3
    assert claims["C4"].verdict == SUPPORTED and claims["C4"].effect == pytest.approx(0.3, abs=0.02)
    # Holm over the 12 claims run: every adjusted p at least its raw p, the largest raw p unchanged or larger
    run = [c for c in claims.values() if c.verdict != NOT_RUN]
    assert len(run) == 12 and all(c.p_holm >= c.p for c in run)
    assert "n_test/n_train = 2.0/18.0" in claims["C1 arousal vs LSTM"].test


def test_uniform_attention_does_not_support_c3(tmp_path):
    fold_r2, attention = planted(np.random.default_rng(0), c3_attention="uniform")
    claims = _verdicts(crafted_run(tmp_path, fold_r2, attention))
    assert claims["C3 valence"].verdict == INCONCLUSIVE and claims["C3 valence"].p == 1.0
    assert claims["C3b"].verdict == SUPPORTED  # uniform valence is still spread wider than focused arousal


def test_c2_equivalence_fails_for_a_large_gap_and_missing_inputs_are_not_run(tmp_path):
    rng = np.random.default_rng(0)
    fold_r2, attention = planted(rng)
    fold_r2[("arousal", "spectral", "AT_8")] = fold_r2[("arousal", "compare", "AT_8")] - 0.3 + rng.normal(0, 0.01, N_FOLDS)
    del fold_r2[("valence", "compare", "AT_8")]  # no AT for valence: C1 valence, C3, C3b cannot run
    claims = _verdicts(crafted_run(tmp_path, fold_r2, attention))
    assert claims["C2 arousal"].verdict == NOT_SUPPORTED and claims["C2 arousal"].effect < -0.25
    for claim_id in ("C1 valence vs LSTM", "C3 valence", "C3b"):
        assert claims[claim_id].verdict == NOT_RUN and "no AT model for valence" in claims[claim_id].note


def test_claims_files_list_every_claim_with_its_rules(tmp_path):
    fold_r2, attention = planted(np.random.default_rng(0))
    del fold_r2[("arousal", "spectral", "AT_8")]
    paths = crafted_run(tmp_path / "results", fold_r2, attention)
    md, csv = tmp_path / "claims.md", tmp_path / "claims.csv"
    table = write_claims(paths, dataset="synthetic", md_path=md, csv_path=csv, settings=SETTINGS,
                         dataset_notes={"n_songs": 20, "notes": ["trained on 20 of 22 songs"]})
    written = pd.read_csv(csv)
    assert written["id"].tolist() == table["id"].tolist() and len(written) == 12
    assert written.set_index("id").loc["C2 arousal", "verdict"] == NOT_RUN
    text = md.read_text()
    assert "synthetic" in text.splitlines()[0] and "| C2 arousal | paper |" in text
    assert "after Holm's correction across the 11 claims" in text and "trained on 20 of 22 songs" in text
    assert "**supported**" in text and "**not run**" in text
    assert "\\|ΔR²\\| < 0.05" in text  # a "|" in a cell is escaped, the table keeps its columns
    assert claims_table([]).empty


def test_normalised_entropy():
    assert normalised_entropy(np.ones(10)) == pytest.approx(1.0)
    one_hot = np.zeros(10)
    one_hot[3] = 1
    assert normalised_entropy(one_hot) == 0


def test_a_single_test_fold_cannot_test_fold_claims(tmp_path):
    fold_r2, attention = planted(np.random.default_rng(0))
    paths = crafted_run(tmp_path, fold_r2, attention)
    for path in paths:  # as with the MediaEval split: one test fold
        summary = json.loads(path.read_text())
        summary["folds"] = summary["folds"][:1]
        path.write_text(json.dumps(summary))
    claims = _verdicts(paths)
    assert claims["C1 arousal vs LSTM"].verdict == NOT_RUN and "≥ 2 shared test folds" in claims["C1 arousal vs LSTM"].note
    assert claims["C4"].verdict == NOT_RUN
    assert claims["C3 valence"].verdict == SUPPORTED  # songs, not folds: still testable


def test_attention_concentration_tells_flat_from_concentrated_maps():
    from mer.reports.claims import attention_concentration, concentration_note, top_share, uniform_received

    n = 61
    assert top_share(np.ones(n)) == pytest.approx(6 / 61)  # round(0.1 * 61) = 6 frames
    assert top_share(np.eye(n)[7]) == 1.0
    # BAT's flat map (each row even over the earlier frames) gives early frames more
    bat_flat = uniform_received(n, causal=True)
    rows = np.tril(np.ones((n, n)), -1)
    rows[1:] /= rows[1:].sum(axis=1, keepdims=True)
    assert np.allclose(bat_flat, rows.sum(axis=0))
    flat = {s: (np.ones(n), None) for s in range(3)}
    peaked = {s: (np.eye(n)[s] * 50 + 1, None) for s in range(3)}
    assert attention_concentration(flat)["ratio"] == pytest.approx(1.0)
    c = attention_concentration(peaked)
    assert c["ratio"] > 4 and c["songs"] == 3
    assert "flat attention: 9.8%" in concentration_note(c)
