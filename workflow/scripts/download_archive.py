"""Download one archive of a dataset (resumable), verify it and record its sha256 in the lock."""

from pathlib import Path

from mer.data.download import dataset_remotes, fetch_archives, manual_download_hint
from mer.jobs import run_job


def main(sm):
    path, dataset = Path(sm.output[0]), sm.wildcards.source
    remotes = {key: remote for key, remote in dataset_remotes(dataset, sm.params.urls, sm.params.sha256).items()
               if remote.filename == path.name}
    fetch_archives(remotes, path.parent, hint=manual_download_hint(path.parent, dataset))


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
