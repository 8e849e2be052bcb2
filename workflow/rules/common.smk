# Helpers and input functions shared by all rules; config validated before any job.

from pathlib import Path

from snakemake.exceptions import WorkflowError

from mer.config import (grid_baseline_model, grid_feature_sets, grid_max_epochs, grid_train, grid_models, grid_runs,
                        validate_params)
from mer.cv import n_test_folds
from mer.errors import ConfigError
from mer.features import feature_set as lookup_feature_set
from mer.features import plan_extraction
from mer.models import parse_model_name


try:
    validate_params(config, Path(workflow.basedir) / "workflow/schemas/params.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

DATASET = config["dataset"]
# The selected grid (`grid` names one of `grids`): the (feature set, model) pairs to train.
RUNS = grid_runs(config)
FEATURE_SETS = grid_feature_sets(config)
MODELS = grid_models(config)
MAX_EPOCHS = grid_max_epochs(config)
TRAIN = grid_train(config)  # train: with the grid's own settings on top
BASELINE_MODEL = grid_baseline_model(config)
TARGETS = config["train"]["targets"]
N_FOLDS = n_test_folds(config["cv"]["split"], config["cv"]["folds"])  # 1 for mediaeval2013
N_SEEDS = config["train"]["seeds"]  # training seeds per configuration
N_SHARDS = config["features"]["shards"]
# Which sets are extracted from audio and which are cut from those files (mer.features.assemble).
FEATURE_SOURCES = plan_extraction(FEATURE_SETS)
EXTRACTED_SETS = [name for name, sources in FEATURE_SOURCES.items() if not sources]
ASSEMBLED_SETS = [name for name, sources in FEATURE_SOURCES.items() if sources]

# Whether any feature set of the grid is computed from audio (a DEAM run on its shipped
# deam260 features alone needs none), and whether one is read from DEAM's features/.
NEEDS_AUDIO = any(not lookup_feature_set(name).precomputed for name in FEATURE_SETS)
USES_SHIPPED_FEATURES = any(lookup_feature_set(name).precomputed for name in FEATURE_SETS)

RAW = f"data/raw/{DATASET}"
FEATURES = f"data/features/{DATASET}"
RESULTS = f"results/{DATASET}"
LOGS = f"logs/{DATASET}"


wildcard_constraints:
    dataset="|".join([DATASET]),
    feature_set="|".join(FEATURE_SETS),
    target="|".join(TARGETS),
    model="|".join(MODELS),
    fold=r"\d+",
    seed_index=r"\d+",
    shard=r"\d+",


def feature_outputs():
    return expand(f"{FEATURES}/{{feature_set}}.npy", feature_set=FEATURE_SETS)


def one_of(names):
    """A wildcard constraint matching exactly ``names`` (none at all when it is empty)."""
    return "|".join(names) if names else "(?!)"


def run_dirs(feature_sets=None, models=None):
    """Result folder of every target and every run of the grid, optionally only the runs on
    ``feature_sets`` / of ``models``."""
    return [f"{RESULTS}/{target}/{feature_set}/{model}"
            for target in TARGETS for feature_set, model in RUNS
            if (feature_sets is None or feature_set in feature_sets)
            and (models is None or model in models)]


def run_files(name, feature_sets=None, models=None):
    """``name`` (e.g. cv_summary.json) in every run folder of ``run_dirs``."""
    return [f"{run_dir}/{name}" for run_dir in run_dirs(feature_sets, models)]


def cv_summaries():
    return run_files("cv_summary.json")


def oof_predictions():
    return run_files("predictions.csv")


def expected_songs():
    """Songs to size jobs for: known for the synthetic set, an upper bound otherwise (DEAM 1802)."""
    return config["synthetic"]["n_songs"] if DATASET == "synthetic" else 2000


def feature_memory_mb(wildcards):
    """Memory for a training job: the fold's copy of the feature table, with headroom."""
    dims = lookup_feature_set(wildcards.feature_set).dims
    n_songs = expected_songs()
    return 1500 + int(3 * n_songs * 61 * dims * 4 / 2**20)


def train_options():
    """Training params one train_fold job depends on (its rerun trigger)."""
    keys = ("batch_size", "learning_rate", "rho", "eps", "patience", "min_delta", "feedback",
            "device", "init", "rmsprop_eps", "deterministic", "autocast")
    return {"max_epochs": MAX_EPOCHS, **{key: TRAIN[key] for key in keys}}


def train_gpus():
    """The `gpu` resource of a training job: 1 when it trains on CUDA (`train.device: cuda`,
    or `auto` with a GPU visible here), else 0. The SLURM executor turns it into --gpus;
    locally, `--resources gpu=1` keeps GPU jobs from sharing the card."""
    if config["train"]["device"] == "cpu":  # the default: no torch import (~2 CPU-s) per parse
        return 0
    from mer.training import training_gpus

    return training_gpus(config["train"]["device"])


def model_options(wildcards):
    family = parse_model_name(wildcards.model).family
    return dict(config["train"]["transformer"]) if family == "TRANSFORMER" else {}


def models_of_family(family, feature_set=None):
    """The grid's models of ``family`` (trained on ``feature_set``, if given)."""
    models = MODELS if feature_set is None else models_on(feature_set)
    return [m for m in models if parse_model_name(m).family == family]


def fold_files(name, models, feature_sets=None, seeds=None):
    """Per-fold files (e.g. history.csv, attention.npz) of the grid's runs of ``models``
    (on ``feature_sets``, default all), every target, training seed (or ``seeds``) and fold."""
    return [f"{run_dir}/seed{seed}/fold{fold}/{name}"
            for run_dir in run_dirs(feature_sets, models)
            for seed in (range(N_SEEDS) if seeds is None else seeds) for fold in range(N_FOLDS)]


def models_on(feature_set):
    """Models the grid trains on ``feature_set``."""
    return [model for run_set, model in RUNS if run_set == feature_set]


def report_outputs():
    """Everything the report stage makes. Figures 3-5 (AT attention) only when the grid trains
    an AT model on the Table 1 feature set, Figure 6 only when it trains a BAT model there."""
    figure_set = config["report"]["table1"]["feature_set"]
    outputs = [
        "reports/metrics.json",
        "reports/best_models.json",
        "reports/tables/cv_summary.md",
        *[f"reports/tables/table{n}.md" for n in (1, 2, 3, 4)],
        "reports/tables/paired_comparison.md",
        "reports/tables/claims.md",
        "reports/tables/dataset.md",
        "reports/figures/fig1_prediction.png",
        "reports/figures/fig2_error_histograms.png",
        "reports/plots",
    ]
    if models_of_family("AT", figure_set):
        outputs += ["reports/figures/fig3_attention_maps.png", "reports/figures/fig4_attended_frames.png"]
        if NEEDS_AUDIO:  # chromagrams are computed from the clips (see run_notes)
            outputs.append("reports/figures/fig5_chromagrams.png")
    outputs.append(f"{RESULTS}/dataset_notes.json")
    if models_of_family("BAT", figure_set):
        outputs.append("reports/figures/fig6_bat_attention_maps.png")
    return outputs


def run_notes():
    """Notes about this run's outputs for results/{dataset}/dataset_notes.json (e.g. a
    figure skipped because the run has no audio)."""
    notes = []
    if not NEEDS_AUDIO and models_of_family("AT", config["report"]["table1"]["feature_set"]):
        notes.append("Figure 5 (chromagrams) needs audio; skipped: every feature set of the grid "
                     "is read from DEAM's shipped features, so the run reads no audio")
    return notes


def model_options_by_name():
    """Options of every model in the grid, by name (the export rebuilds the selected one)."""
    from types import SimpleNamespace
    return {name: model_options(SimpleNamespace(model=name)) for name in MODELS}


def export_outputs():
    """One bundle folder per target, for the feature set `mer predict` uses (export.feature_set)."""
    return expand(f"models/{DATASET}/{{target}}/{{feature_set}}", target=TARGETS,
                  feature_set=config["export"]["feature_set"])


def export_card_params():
    """The parameters an exported bundle depends on; their hash goes on its card."""
    keys = {"dataset": DATASET, "seed": config["seed"], "cv": config["cv"],
            "train": {**TRAIN, "max_epochs": MAX_EPOCHS},
            "models": models_on(config["export"]["feature_set"]), "compare_mode": config["features"]["compare_mode"],
            "export_feature_set": config["export"]["feature_set"]}
    if DATASET == "synthetic":
        keys["synthetic"] = config["synthetic"]
    return keys


def train_runtime_min(wildcards):
    """SLURM wall time of one training job, from the model size, data size and epochs.

    Forward + backward ≈ 6 FLOP per weight use; LSTM layer i of width h on input d does
    4 h (d + h) multiply-adds per frame. Rates are cautious measurements of this machine
    (CPU ~20 GFLOP/s per job) and an assumed 5 TFLOP/s on a GPU; 3x headroom + 10 min.
    """
    spec = parse_model_name(wildcards.model)
    dims = lookup_feature_set(wildcards.feature_set).dims
    n_songs = expected_songs()
    if spec.family == "TRANSFORMER":
        width = config["train"]["transformer"]["d_model"]
        per_frame = dims * width + spec.sizes[0] * 12 * width * width
    else:
        per_frame, previous = 0, dims
        for hidden in spec.sizes:
            per_frame += 4 * hidden * (previous + hidden)
            previous = hidden
    flop = 6 * per_frame * 61 * n_songs * MAX_EPOCHS
    rate = 5e12 if train_gpus() else 2e10
    return int(10 + 3 * flop / rate / 60)


def export_runtime_min(wildcards):
    """The longest training job among the candidates (the chosen one is known only later)."""
    from types import SimpleNamespace
    return max(train_runtime_min(SimpleNamespace(model=model, feature_set=wildcards.feature_set))
               for model in models_on(wildcards.feature_set))
