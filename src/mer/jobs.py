"""What every workflow script does around its one call into mer: log, threads, errors.

Scripts under ``workflow/scripts/`` stay a few lines long::

    from mer.jobs import run_job
    run_job(snakemake, lambda sm: extract_shard(...))

``run_job`` sends log records to the rule's ``log:`` file (and stderr), caps torch/BLAS/
numba threads to the rule's ``threads``, and turns a ``MerError`` into one readable line
plus a non-zero exit instead of a traceback.
"""

from __future__ import annotations

import logging
import sys

from mer.errors import MerError


def setup_logging(log_path: str | None = None) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_job(snakemake, main) -> None:
    log_path = snakemake.log[0] if len(snakemake.log) else None
    setup_logging(log_path)
    from mer.runtime import limit_threads
    limit_threads(snakemake.threads)
    try:
        main(snakemake)
    except MerError as error:
        logging.getLogger("mer").error("%s", error)
        sys.exit(1)
