"""The paper's claims (and ours), each tested on this run's data, with a computed verdict.

One row per claim: its statement, the models compared, the test, the evidence (effect,
interval, p, Holm-corrected p) and the verdict. The claims:

* **C1** (paper, per target): the best AT beats the best LSTM, BAT and Transformer on R²
  — corrected resampled t-test over folds of the per-fold R² difference (AT − other).
* **C1b** (ours, per target): the best network beats the best baseline (MEAN, RIDGE,
  RIDGE_SONG) — same test.
* **C2** (paper, arousal): the spectral set is on par with ComParE — the best
  single-layer AT on each; equivalence within ± ``equivalence_margin_r2`` of R² by TOST on
  the corrected fold variance.
* **C3** (paper, valence): AT attention goes to frames where the annotation changes — per
  test song, the Pearson correlation between the attention each frame receives (column
  sums of the attention map) and |Δ annotation| at that frame (|a_t − a_{t−1}|, t ≥ 1),
  averaged over songs, against circular shifts of each song's |Δ annotation| (permutation
  p, ``mer.reports.stats.circular_shift_test``).
* **C3b** (paper): arousal attention concentrates on fewer frames than valence — per song,
  the normalised entropy (÷ log T) of the received attention (column sums ÷ T), valence −
  arousal, Wilcoxon signed-rank over songs with a bootstrap CI of the mean; conditional on
  the trained models (songs vary, the models do not).
* **C4** (paper): arousal is predicted better than valence — best network per target,
  corrected t-test over folds of R²(arousal) − R²(valence).

C1, C1b, C3, C3b and C4 use ``report.table1.feature_set``; attention comes from the first
training seed (as the figures). "Best" follows ``report.selection`` (default: lowest
validation loss, which never looks at the test folds).

**Verdicts** (α = ``report.claims.alpha``, after Holm across every claim of the table that
was run): a directional claim is *supported* when its Holm-corrected two-sided p < α and
the effect has the claimed sign; *not supported* when p < α and the effect has the
opposite sign; *inconclusive* otherwise (including an undefined test). The equivalence
claim C2 uses the one of its two tests that can reject — the TOST p when |ΔR²| ≤ margin
(small: equivalent), else the p that |ΔR²| exceeds the margin (small: not equivalent) —
and is *supported* / *not supported* when that Holm-corrected p < α, *inconclusive*
otherwise. A claim whose inputs the grid lacks is *not run*, with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.reports.selection import SELECTION_LABELS, select
from mer.reports.stats import circular_shift_test, corrected_ttest, corrected_tost, holm, wilcoxon_p
from mer.reports.summaries import baselines, family, fold_song_counts, fold_values, networks

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_RUN = "supported", "not supported", "inconclusive", "not run"
FAMILY_NAMES = {"LSTM": "LSTM", "BAT": "BAT", "TRANSFORMER": "Transformer"}


@dataclass
class Claim:
    id: str
    source: str
    statement: str
    kind: str = "directional"        # directional | equivalence
    compared: str = "–"
    test: str = "–"
    effect_name: str = "–"
    effect: float = np.nan
    ci_low: float = np.nan
    ci_high: float = np.nan
    p: float = np.nan
    p_holm: float = np.nan
    verdict: str = ""             # set by decide(), or NOT_RUN by _missing()
    note: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimSettings:
    feature_set: str = "compare"
    alpha: float = 0.05
    equivalence_margin_r2: float = 0.05
    selection: str = "validation"
    permutations: int = 2000
    seed: int = 0


def _predictions(row) -> pd.DataFrame:
    return pd.read_csv(Path(row["summary_path"]).with_name("predictions.csv"))


def _fold_comparison(claim: Claim, a, b, *, effect_name: str, equivalence_margin: float | None = None) -> Claim:
    """Fill ``claim`` with the corrected t-test (or TOST) of R²(a) − R²(b) over shared folds."""
    r2_a, r2_b = fold_values(a["summary_path"]), fold_values(b["summary_path"])
    folds = r2_a.index.intersection(r2_b.index)
    n_test, n_train = fold_song_counts(_predictions(a))
    claim.compared = f"{a['model']} ({a['target']}, {a['feature_set']}) − {b['model']} ({b['target']}, {b['feature_set']})"
    claim.effect_name = effect_name
    if len(folds) < 2:
        claim.verdict, claim.note = NOT_RUN, f"needs ≥ 2 shared test folds, has {len(folds)} (a single split cannot be tested over folds)"
        claim.effect = float((r2_a.loc[folds] - r2_b.loc[folds]).mean()) if len(folds) else np.nan
        return claim
    d = (r2_a.loc[folds] - r2_b.loc[folds]).to_numpy()
    if equivalence_margin is None:
        test = corrected_ttest(d, n_test=n_test, n_train=n_train)
        claim.p = test.p
        claim.test = f"corrected resampled t-test, {test.k} folds, n_test/n_train = {n_test:.1f}/{n_train:.1f}"
        claim.extra["wilcoxon_p"] = wilcoxon_p(r2_a.loc[folds], r2_b.loc[folds])
    else:
        result = corrected_tost(d, margin=equivalence_margin, n_test=n_test, n_train=n_train)
        test = result.test
        within = np.isfinite(test.estimate) and abs(test.estimate) <= equivalence_margin
        claim.p = result.p_equivalent if within else result.p_different
        claim.test = (f"TOST ± {equivalence_margin:g} on the corrected fold variance ({'equivalence' if within else 'difference beyond the margin'} side), "
                      f"{test.k} folds, n_test/n_train = {n_test:.1f}/{n_train:.1f}")
        claim.extra.update(p_equivalent=result.p_equivalent, p_different=result.p_different)
    claim.effect, claim.ci_low, claim.ci_high = test.estimate, test.ci_low, test.ci_high
    if not np.isfinite(claim.p):
        claim.note = "test undefined (the fold differences do not vary)"
    return claim


def _subset(summaries, target, feature_set):
    return summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]


def _missing(claim: Claim, why: str) -> Claim:
    claim.verdict, claim.note = NOT_RUN, why
    return claim


def claims_c1(summaries, s: ClaimSettings, targets) -> list[Claim]:
    claims = []
    for target in targets:
        subset = networks(_subset(summaries, target, s.feature_set))
        fams = subset["model"].map(family)
        for other in FAMILY_NAMES:
            claim = Claim(f"C1 {target} vs {FAMILY_NAMES[other]}", "paper",
                          f"The best AT model predicts {target} better (R²) than the best {FAMILY_NAMES[other]} "
                          f"model ({s.feature_set} features).")
            if not (fams == "AT").any() or not (fams == other).any():
                lacking = " and ".join(n for n, f in (("AT", "AT"), (FAMILY_NAMES[other], other)) if not (fams == f).any())
                claims.append(_missing(claim, f"the grid trains no {lacking} model for {target} on {s.feature_set}"))
                continue
            claims.append(_fold_comparison(claim, select(subset[fams == "AT"], s.selection),
                                           select(subset[fams == other], s.selection), effect_name="ΔR² (folds)"))
    return claims


def claims_c1b(summaries, s: ClaimSettings, targets) -> list[Claim]:
    claims = []
    for target in targets:
        subset = _subset(summaries, target, s.feature_set)
        claim = Claim(f"C1b {target}", "ours",
                      f"The best network predicts {target} better (R²) than the best baseline "
                      f"(MEAN, RIDGE, RIDGE_SONG; {s.feature_set} features).")
        nets, base = networks(subset), baselines(subset)
        if nets.empty or base.empty:
            claims.append(_missing(claim, f"the grid trains no {'network' if nets.empty else 'baseline'} "
                                          f"for {target} on {s.feature_set}"))
            continue
        claims.append(_fold_comparison(claim, select(nets, s.selection), select(base, s.selection),
                                       effect_name="ΔR² (folds)"))
    return claims


def claim_c2(summaries, s: ClaimSettings, target: str = "arousal") -> Claim:
    claim = Claim(f"C2 {target}", "paper",
                  f"The spectral set predicts {target} on par with ComParE: |ΔR²| < "
                  f"{s.equivalence_margin_r2:g} (best single-layer AT on each).", kind="equivalence",
                  extra={"margin": s.equivalence_margin_r2})
    sides = []
    for feature_set in ("spectral", "compare"):
        members = _subset(summaries, target, feature_set)
        members = members[members["group"] == "AT single"]
        if members.empty:
            return _missing(claim, f"the grid trains no single-layer AT model for {target} on {feature_set}")
        sides.append(select(members, s.selection))
    return _fold_comparison(claim, *sides, effect_name="ΔR² spectral − ComParE (folds)",
                            equivalence_margin=s.equivalence_margin_r2)


def song_attention(summary_path, predictions: pd.DataFrame, seed_index: int = 0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per out-of-fold song: (attention each frame receives, annotation), from the song's
    test fold of training seed ``seed_index``. Received attention = column sums of the
    (T, T) map (row: predicted frame, column: attended frame)."""
    from mer.cv import load_song_attention
    from mer.errors import DataError

    run_dir = Path(summary_path).parent
    songs = {}
    for fold, rows in predictions.groupby("fold"):
        path = run_dir / f"seed{seed_index}" / f"fold{int(fold)}" / "attention.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing; the claims need the attention of every test fold "
                            f"(re-run `snakemake train`)")
        with np.load(path) as data:
            if not bool(data["has_attention"]):
                raise DataError(f"{path}: this model stores no attention")
            for song_id, song in rows.groupby("song_id"):
                weights = load_song_attention(data, int(song_id), path)
                annotation = song.sort_values("frame")["annotation"].to_numpy(float)
                if weights.shape[0] != len(annotation):
                    raise DataError(f"{path}: song {song_id} has {weights.shape[0]} attention frames but "
                                    f"{len(annotation)} annotated frames in predictions.csv")
                songs[int(song_id)] = (weights.sum(axis=0), annotation)
    return songs


def _best_at(summaries, s: ClaimSettings, target: str):
    subset = networks(_subset(summaries, target, s.feature_set))
    at = subset[subset["model"].map(family) == "AT"]
    return None if at.empty else select(at, s.selection)


def claim_c3(summaries, s: ClaimSettings, target: str = "valence") -> Claim:
    claim = Claim(f"C3 {target}", "paper",
                  f"AT attention goes to the frames where the {target} annotation changes: attention received "
                  f"correlates with |Δ annotation| beyond chance ({s.feature_set} features).")
    at = _best_at(summaries, s, target)
    if at is None:
        return _missing(claim, f"the grid trains no AT model for {target} on {s.feature_set}")
    songs = song_attention(at["summary_path"], _predictions(at))
    received = [r[1:] for r, _ in songs.values()]
    change = [np.abs(np.diff(a)) for _, a in songs.values()]
    observed, null_mean, p, n = circular_shift_test(received, change, n_permutations=s.permutations, seed=s.seed)
    claim.compared = f"{at['model']} ({target}, {s.feature_set}), {n} of {len(songs)} songs"
    claim.test = (f"circular-shift permutation test of the mean per-song correlation, {s.permutations} shifts "
                  f"(seed {s.seed}); conditional on the trained models")
    claim.effect_name = "mean r − null mean r"
    claim.effect, claim.p = observed - null_mean, p
    concentration = attention_concentration(songs)
    claim.extra.update(observed_r=observed, null_r=null_mean, songs=n,
                       attention_top_share=concentration["top_share"],
                       attention_flat_top_share=concentration["uniform_top_share"])
    notes = [concentration_note(concentration)]
    if n < len(songs):
        notes.append(f"{len(songs) - n} songs with a constant annotation left out")
    if n == 0:
        notes.append("no song with a changing annotation")
    claim.note = "; ".join(notes)
    return claim


TOP_SHARE_FRACTION = 0.1  # "the top 10 % of frames": how concentrated attention is


def top_share(received: np.ndarray, fraction: float = TOP_SHARE_FRACTION) -> float:
    """Share of a song's received attention (column sums) that its top ``fraction`` of
    frames (at least one) receive: ``fraction`` for uniform attention, 1 for one frame."""
    p = np.sort(np.asarray(received, float))[::-1]
    return float(p[:max(1, int(round(fraction * len(p))))].sum() / p.sum())


def uniform_received(n_frames: int, causal: bool) -> np.ndarray:
    """Column sums of the map in which every row spreads its weight evenly over the frames
    it may attend to: all of them (AT), or the earlier ones only (BAT, row t over 1..t-1)."""
    if not causal:
        return np.ones(n_frames)
    rows = np.arange(1, n_frames)  # rows 2..T (0-based index t attends to 0..t-1)
    return np.array([np.sum(1.0 / rows[rows > j]) for j in range(n_frames)])


def attention_concentration(songs: dict, causal: bool = False) -> dict:
    """Mean over songs of ``top_share`` of the received attention, beside the same for
    uniform rows (the flat reference): {"top_share", "uniform_top_share", "ratio", "songs"}."""
    shares = [top_share(received) for received, _ in songs.values()]
    flat = [top_share(uniform_received(len(received), causal)) for received, _ in songs.values()]
    share, reference = (float(np.mean(v)) if v else np.nan for v in (shares, flat))
    return {"top_share": share, "uniform_top_share": reference,
            "ratio": share / reference if reference else np.nan, "songs": len(shares)}


def concentration_note(c: dict) -> str:
    return (f"attention concentration: the top {TOP_SHARE_FRACTION:.0%} of frames receive "
            f"{c['top_share']:.1%} of it (flat attention: {c['uniform_top_share']:.1%}; "
            f"ratio {c['ratio']:.2f}, mean of {c['songs']} songs)")


def normalised_entropy(received: np.ndarray) -> float:
    """Entropy of the received-attention distribution ÷ log T (1: uniform; 0: one frame)."""
    p = np.asarray(received, float)
    p = p / p.sum()
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / np.log(len(p)))


def claim_c3b(summaries, s: ClaimSettings, seed: int = 0) -> Claim:
    from scipy.stats import bootstrap

    claim = Claim("C3b", "paper", f"Arousal attention concentrates on fewer frames than valence attention: "
                                  f"lower entropy of the attention received ({s.feature_set} features).")
    ats = {t: _best_at(summaries, s, t) for t in ("arousal", "valence")}
    lacking = [t for t, at in ats.items() if at is None]
    if lacking:
        return _missing(claim, f"the grid trains no AT model for {' and '.join(lacking)} on {s.feature_set}")
    attention = {t: song_attention(at["summary_path"], _predictions(at)) for t, at in ats.items()}
    entropy = {t: {song: normalised_entropy(r) for song, (r, _) in songs.items()}
               for t, songs in attention.items()}
    songs = sorted(set(entropy["arousal"]) & set(entropy["valence"]))
    d = np.array([entropy["valence"][song] - entropy["arousal"][song] for song in songs])
    claim.compared = f"{ats['valence']['model']} (valence) vs {ats['arousal']['model']} (arousal), {len(songs)} songs"
    claim.test = "Wilcoxon signed-rank over songs, bootstrap CI of the mean; conditional on the trained models"
    claim.effect_name = "mean entropy valence − arousal"
    claim.effect = float(d.mean()) if len(d) else np.nan
    claim.p = wilcoxon_p(d, np.zeros_like(d))
    if len(d) >= 3 and np.ptp(d) > 0:
        ci = bootstrap((d,), np.mean, n_resamples=2000, method="percentile",
                       rng=np.random.default_rng(seed)).confidence_interval
        claim.ci_low, claim.ci_high = float(ci.low), float(ci.high)
    concentration = {t: attention_concentration(songs) for t, songs in attention.items()}
    claim.extra.update({f"attention_top_share_{t}": c["top_share"] for t, c in concentration.items()})
    claim.note = "; ".join(f"{t} {concentration_note(c)}" for t, c in concentration.items())
    if not np.isfinite(claim.p):
        claim.note += "; test undefined (fewer than 2 songs, or no difference)"
    return claim


def claim_c4(summaries, s: ClaimSettings) -> Claim:
    claim = Claim("C4", "paper", f"Arousal is predicted better (R²) than valence (best network per target, "
                                 f"{s.feature_set} features).")
    sides = []
    for target in ("arousal", "valence"):
        nets = networks(_subset(summaries, target, s.feature_set))
        if nets.empty:
            return _missing(claim, f"the grid trains no network for {target} on {s.feature_set}")
        sides.append(select(nets, s.selection))
    return _fold_comparison(claim, *sides, effect_name="ΔR² arousal − valence (folds)")


def decide(claims: list[Claim], alpha: float) -> list[Claim]:
    """Holm-correct the p of every claim that was run, then apply the verdict rules."""
    run = [c for c in claims if c.verdict != NOT_RUN]
    for claim, adjusted in zip(run, holm([c.p for c in run])):
        claim.p_holm = float(adjusted)
        if not np.isfinite(adjusted) or adjusted >= alpha:
            claim.verdict = INCONCLUSIVE
        elif claim.kind == "equivalence":
            claim.verdict = SUPPORTED if abs(claim.effect) <= claim.extra["margin"] else NOT_SUPPORTED
        else:
            claim.verdict = SUPPORTED if claim.effect > 0 else NOT_SUPPORTED
    return claims


def evaluate_claims(summaries: pd.DataFrame, settings: ClaimSettings) -> list[Claim]:
    """Every claim, tested on ``summaries`` (``mer.reports.summaries.load_summaries``)."""
    targets = [t for t in ("arousal", "valence") if (summaries["target"] == t).any()]
    claims = [*claims_c1(summaries, settings, targets), *claims_c1b(summaries, settings, targets),
              claim_c2(summaries, settings)]
    c3 = claim_c3(summaries, settings)
    c3b = claim_c3b(summaries, settings, seed=settings.seed)
    claims += [c3, c3b, claim_c4(summaries, settings)]
    return decide(claims, settings.alpha)


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    return pd.DataFrame([{"id": c.id, "source": c.source, "statement": c.statement, "compared": c.compared,
                          "test": c.test, "effect": c.effect_name, "estimate": c.effect, "ci_low": c.ci_low,
                          "ci_high": c.ci_high, "p": c.p, "p_holm": c.p_holm, "verdict": c.verdict, "note": c.note,
                          "details": json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                                                 for k, v in c.extra.items()})}
                         for c in claims])


VERDICT_RULES = (
    "Verdicts at α = {alpha:g} after Holm's correction across the {n_run} claims that were run: a directional "
    "claim is **supported** when its Holm-corrected two-sided p < α and the effect has the claimed sign (> 0), "
    "**not supported** when p < α and the effect has the opposite sign, **inconclusive** otherwise. The "
    "equivalence claim (C2, margin ± {margin:g} R²) takes the one of its two tests that can reject — TOST when "
    "|ΔR²| ≤ margin, the test that |ΔR²| exceeds the margin otherwise — and is supported / not supported when "
    "that Holm-corrected p < α, inconclusive otherwise. **not run**: the grid lacks the claim's inputs. Fold "
    "tests: Nadeau–Bengio corrected resampled t-test (variance × (1/k + n_test/n_train)). C3 and C3b vary only "
    "the test songs: they are conditional on the trained models. \"Best\" model: {selection}.")


def _evidence(claim: Claim) -> str:
    if claim.verdict == NOT_RUN:
        return "–"
    def num(v, digits=3):
        return "–" if not np.isfinite(v) else f"{v:.{digits}f}"
    interval = f" [{num(claim.ci_low)}, {num(claim.ci_high)}]" if np.isfinite(claim.ci_low) else ""
    estimate = "–" if not np.isfinite(claim.effect) else f"{claim.effect:+.3f}"
    return f"{claim.effect_name} = {estimate}{interval}; p = {num(claim.p, 4)}, Holm p = {num(claim.p_holm, 4)}; {claim.test}"


def write_claims(summary_paths, *, dataset: str, md_path, csv_path, settings: ClaimSettings,
                 dataset_notes: dict | None = None) -> pd.DataFrame:
    """``claims.md`` and ``claims.csv``: every claim with its evidence and computed verdict."""
    from mer.io import write_csv_atomic, write_text_atomic
    from mer.reports.tables import dataset_caption, dataset_note, load_summaries, to_markdown

    claims = evaluate_claims(load_summaries(summary_paths), settings)
    table = claims_table(claims)
    view = pd.DataFrame({"id": table["id"], "source": table["source"], "statement": table["statement"],
                         "compared": table["compared"], "evidence": [_evidence(c) for c in claims],
                         "verdict": [f"**{v}**" for v in table["verdict"]],
                         "note": [n or "–" for n in table["note"]]})
    n_run = sum(c.verdict != NOT_RUN for c in claims)
    notes = VERDICT_RULES.format(alpha=settings.alpha, n_run=n_run, margin=settings.equivalence_margin_r2,
                                 selection=f"by {SELECTION_LABELS[settings.selection]} (`report.selection`)")
    extra = dataset_note(dataset_notes)
    write_csv_atomic(table, csv_path)
    write_text_atomic(to_markdown(view, f"The paper's claims, tested — {dataset_caption(dataset)}",
                                  notes + (f" {extra}" if extra else "")), md_path)
    return table
