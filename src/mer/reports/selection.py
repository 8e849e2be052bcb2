"""Which model of a family is "the best": the two selections the tables report.

* ``test_r2`` — the paper's selection: the highest mean R² over the **test** folds (ties:
  lower mean MAE, then name). The folds that pick the model also score it, so the number
  is optimistic (a maximum over noisy estimates); it is kept because it is how the paper's
  tables were made, and the paper's values can only be compared with it.
* ``validation`` — the selection a user could make without the test folds: the lowest mean
  over folds of the best validation loss (``val_loss`` in ``cv_summary.json``: each fold's
  MSE on its validation songs at the restored epoch; ties: higher mean test R², then name).
  Its test metrics are an honest estimate for the chosen configuration.

A baseline (``MEAN``, ``RIDGE``, ``RIDGE_SONG``) has one configuration: both selections
return it. Rows whose ranking value is NaN rank last.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SELECTIONS = ("test_r2", "validation")
SELECTION_LABELS = {"test_r2": "test R² (paper's; optimistic)", "validation": "validation loss"}


def select_best(summaries: pd.DataFrame) -> pd.Series:
    """The paper's selection: best row by mean test R² (ties: lower MAE, then name)."""
    ranked = summaries.assign(_r2=summaries["r2"].fillna(-np.inf))
    ranked = ranked.sort_values(["_r2", "mae", "model"], ascending=[False, True, True])
    return ranked.iloc[0].drop("_r2")


def select_by_validation(summaries: pd.DataFrame) -> pd.Series:
    """Best row by lowest mean validation loss over folds (ties: higher R², then name)."""
    if "val_loss" not in summaries:
        summaries = summaries.assign(val_loss=np.nan)
    ranked = summaries.assign(_loss=summaries["val_loss"].fillna(np.inf), _r2=-summaries["r2"].fillna(-np.inf))
    ranked = ranked.sort_values(["_loss", "_r2", "model"])
    return ranked.iloc[0].drop(["_loss", "_r2"])


def select(summaries: pd.DataFrame, selection: str) -> pd.Series:
    """The best row of ``summaries`` under ``selection`` (one of ``SELECTIONS``)."""
    if selection == "test_r2":
        return select_best(summaries)
    if selection == "validation":
        return select_by_validation(summaries)
    raise ValueError(f"unknown selection {selection!r}; use one of {', '.join(SELECTIONS)}")
