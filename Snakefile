# mer: dynamic music emotion recognition, reproducing Chaki et al. (ISMIR 2020).
# `snakemake --cores 8` runs everything below `rule all`; stage targets: dataset,
# features, train, report, export (the DVC stages call these; `export` writes
# the model bundles `mer predict` uses).

import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from mer.config import read_params_yaml
from mer.errors import ConfigError
from mer.runlock import stale_lock, stale_lock_message

min_version("8.20")

# mer reads params.yaml first, so that a YAML syntax error keeps its line and column
# (Snakemake's reader says only "not valid JSON or YAML"); the values are validated in
# common.smk once Snakemake has applied any --config overrides.
if not workflow.overwrite_configfiles:
    try:
        read_params_yaml("params.yaml")
    except ConfigError as error:
        raise WorkflowError(str(error)) from None

# A lock left by a killed run: say what to run before Snakemake's LockException does.
if workflow.is_main_process and "--unlock" not in sys.argv and (stale := stale_lock(".")):
    print(stale_lock_message(".", stale), file=sys.stderr)


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/export.smk"


rule all:
    input:
        report_outputs(),
    default_target: True
