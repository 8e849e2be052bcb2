# Helpers and input functions shared by all rules; config validated before any job.

from pathlib import Path

from snakemake.exceptions import WorkflowError

from mer.config import validate_params
from mer.errors import ConfigError
from mer.features import feature_set as lookup_feature_set
from mer.models import has_attention, parse_model_name


try:
    validate_params(config, Path(workflow.basedir) / "workflow/schemas/params.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

DATASET = config["dataset"]
FEATURE_SETS = config["features"]["sets"]
TARGETS = config["train"]["targets"]
MODELS = config["train"]["models"]
N_FOLDS = config["cv"]["folds"]
N_SHARDS = config["features"]["shards"]

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
    shard=r"\d+",


def feature_outputs():
    return expand(f"{FEATURES}/{{feature_set}}.npy", feature_set=FEATURE_SETS)


def fold_dir(wildcards=None):
    return f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/fold{{fold}}"


def cv_summaries():
    return expand(f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/cv_summary.json",
                  target=TARGETS, feature_set=FEATURE_SETS, model=MODELS)


def oof_predictions():
    return expand(f"{RESULTS}/{{target}}/{{feature_set}}/{{model}}/predictions.csv",
                  target=TARGETS, feature_set=FEATURE_SETS, model=MODELS)


def feature_memory_mb(wildcards):
    """Memory for a training job: the fold's copy of the feature table, with headroom."""
    dims = lookup_feature_set(wildcards.feature_set).dims
    n_songs = config["synthetic"]["n_songs"] if DATASET == "synthetic" else 2000
    return 1500 + int(3 * n_songs * 61 * dims * 4 / 2**20)


def train_options():
    """Training params one train_fold job depends on (its rerun trigger)."""
    keys = ("max_epochs", "batch_size", "learning_rate", "rho", "eps", "patience",
            "min_delta", "feedback", "device")
    return {key: config["train"][key] for key in keys}


def model_options(wildcards):
    family = parse_model_name(wildcards.model).family
    return dict(config["train"]["transformer"]) if family == "TRANSFORMER" else {}


def report_outputs():
    return [
        "reports/metrics.json",
        "reports/tables/cv_summary.md",
        "reports/tables/table1.md",
        "reports/figures/fig1_prediction.png",
    ]
