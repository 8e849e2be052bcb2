# mer: dynamic music emotion recognition, reproducing Chaki et al. (ISMIR 2020).
# `snakemake --cores 8` runs everything below `rule all`; stage targets: dataset,
# features, train, report, export (the DVC stages call these; `export` writes
# the model bundles `mer predict` uses).

from snakemake.utils import min_version

min_version("8.20")


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
