"""Figure 5: chromagrams of the attention-map clips, on the maps' time axis."""

from mer.jobs import run_job
from mer.reports.figures import figure5_chromagrams


def main(sm):
    figure5_chromagrams(list(sm.input.summaries), dataset=sm.params.dataset, raw_root=sm.input.raw,
                        feature_set=sm.params.feature_set, targets=sm.params.targets,
                        clips=sm.params.clips, png_path=sm.output.png, pdf_path=sm.output.pdf)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
