"""The paper's reported numbers (Chaki et al., ISMIR 2020, Tables 1-4).

Kept as data so our tables can print them beside our own; never used as results.
Each entry: family group -> (sizes searched, best model, R², mean Kendall tau, MAE).
"""

PAPER_TABLES = {
    ("arousal", "compare"): {
        "LSTM single": ("128, 300, 400, 512, 700, 1024, 2048", "LSTM_1024", 0.73, 0.12, 0.12),
        "LSTM multi": ("700_128, 700_400, 2048_1024, 2048_1024_700", "LSTM_700_128", 0.69, 0.20, 0.12),
        "AT single": ("32, 64, 128, 300, 400, 512, 700, 1024, 2048", "AT_300", 0.75, 0.15, 0.13),
        "AT multi": ("300_128, 400_128, 1024_400, 2048_1024, 2048_1024_512", "AT_2048_1024", 0.78, 0.24, 0.11),
        "BAT single": ("400, 1024, 2048", "BAT_1024", 0.55, 0.04, 0.12),
        "BAT multi": ("300_128, 400_128, 1024_400, 1024_512, 2048_1024, 2048_1024_512", "BAT_2048_1024", 0.58, 0.06, 0.12),
        "Transformer": ("1, 2, 4 layers", "TRANSFORMER_2", 0.64, 0.61, 0.27),
    },
    ("valence", "compare"): {
        "LSTM single": ("128, 300, 400, 512, 700, 1024, 2048", "LSTM_700", 0.39, 0.10, 0.15),
        "LSTM multi": ("700_128, 700_400, 2048_1024, 2048_1024_700", "LSTM_2048_1024", 0.29, 0.17, 0.15),
        "AT single": ("32, 64, 128, 300, 400, 512, 700, 1024, 2048", "AT_400", 0.53, 0.08, 0.16),
        "AT multi": ("300_128, 400_128, 1024_400, 2048_1024, 2048_1024_512", "AT_300_128", 0.51, 0.04, 0.16),
        "BAT single": ("400, 1024, 2048", "BAT_2048", 0.16, 0.13, 0.15),
        "BAT multi": ("300_128, 400_128, 1024_400, 1024_512, 2048_1024, 2048_1024_512", "BAT_400_128", 0.21, 0.16, 0.14),
        "Transformer": ("1, 2, 4 layers", "TRANSFORMER_1", 0.12, 0.11, 0.10),
    },
}

# The Weninger et al. (2014) LSTM_400 baseline the paper lists above its Tables 1 and 2:
# target -> (model, R², mean Kendall tau, MAE).
PAPER_BASELINE = {
    "arousal": ("LSTM_400", 0.60, 0.14, 0.11),
    "valence": ("LSTM_400", 0.29, 0.08, 0.16),
}

# Tables 3 and 4: single-layer AT models (sizes as in Table 1) on the smaller feature sets.
# target -> feature set -> (best model, R², mean Kendall tau, MAE).
PAPER_SMALL_FEATURE_TABLES = {
    "arousal": {
        "chroma": ("AT_64", 0.15, 0.04, 0.19),
        "cqt": ("AT_64", 0.45, 0.06, 0.17),
        "chroma_cqt": ("AT_64", 0.57, 0.07, 0.14),
        "spectral": ("AT_64", 0.70, 0.03, 0.12),
    },
    "valence": {
        "chroma": ("AT_64", 0.01, 0.002, 0.09),
        "cqt": ("AT_64", 0.07, 0.01, 0.17),
        "chroma_cqt": ("AT_64", 0.17, 0.06, 0.14),
        "spectral": ("AT_128", 0.35, 0.07, 0.16),
    },
}
# the paper's names for our feature sets (Tables 3-4 row labels)
PAPER_FEATURE_NAMES = {"compare": "ComParE", "chroma": "Chroma(STFT+CQT)", "cqt": "CQT",
                       "chroma_cqt": "Chroma+CQT", "spectral": "Spectral"}

# Every model the paper searched in Tables 1-2 (Experiment 1): 37 configurations.
PAPER_GRID = (
    [f"LSTM_{n}" for n in (128, 300, 400, 512, 700, 1024, 2048)]
    + ["LSTM_700_128", "LSTM_700_400", "LSTM_2048_1024", "LSTM_2048_1024_700"]
    + [f"AT_{n}" for n in (32, 64, 128, 300, 400, 512, 700, 1024, 2048)]
    + ["AT_300_128", "AT_400_128", "AT_1024_400", "AT_2048_1024", "AT_2048_1024_512"]
    + [f"BAT_{n}" for n in (400, 1024, 2048)]
    + ["BAT_300_128", "BAT_400_128", "BAT_1024_400", "BAT_1024_512", "BAT_2048_1024",
       "BAT_2048_1024_512"]
    + [f"TRANSFORMER_{n}" for n in (1, 2, 4)]
)

# -- when the paper's values may stand beside ours -------------------------------------------

PAPER_DATASETS = ("emomusic", "local")  # the real emoMusic set: downloaded, or the user's copy
PAPER_FOLDS = 10


def paper_comparable(dataset: str, cv: dict | None) -> tuple[bool, str]:
    """Whether this run's setting is the paper's (emoMusic, 10-fold CV by song), and why not.

    Returns (comparable, reason); the reason is the table note when it is not.
    """
    if dataset not in PAPER_DATASETS:
        return False, (f"dataset {dataset!r} is not emoMusic (the paper's numbers are for the real "
                       f"emoMusic set: `dataset: emomusic` or `local`)")
    cv = cv or {}
    if cv.get("split", "kfold") != "kfold":
        return False, (f"`cv.split: {cv.get('split')}` is not the paper's protocol (10-fold CV by song, "
                       f"`cv.split: kfold`)")
    if cv.get("folds") != PAPER_FOLDS:
        return False, f"`cv.folds: {cv.get('folds')}`, the paper used {PAPER_FOLDS}-fold CV"
    return True, ""


def r2_upper_bound(mae: float, target_std: float) -> float:
    """The largest R² a model with this MAE can have on a target of this std.

    MAE² ≤ MSE (Jensen: the mean of |e| squared is at most the mean of e²), and
    R² = 1 − MSE / Var(y), so R² ≤ 1 − MAE² / std².
    """
    return 1 - mae ** 2 / target_std ** 2


def impossible_rows(target: str, feature_set: str, target_std: float) -> list[tuple[str, float, float, float]]:
    """The paper's rows of this table whose R² exceeds ``r2_upper_bound`` of their own MAE.

    Returns (family group, reported R², reported MAE, bound) for each such row.
    """
    rows = []
    for group, (_, _, r2, _, mae) in PAPER_TABLES.get((target, feature_set), {}).items():
        bound = r2_upper_bound(mae, target_std)
        if r2 > bound:
            rows.append((group, r2, mae, bound))
    return rows
