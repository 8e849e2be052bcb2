"""What the light jobs import: the model registry and the report modules without torch.

The Snakefile and every report job use the registry (names, is_baseline); importing torch
costs ~2 CPU-s per process (benchmarks/jobs.py), paid by each of those jobs. Run in a new
interpreter, since this test session has imported torch already.
"""

import subprocess
import sys

import pytest

from mer.models import MODEL_FAMILIES, build_model

LIGHT = ("mer.models", "mer.config", "mer.cv", "mer.reports.tables", "mer.reports.claims",
         "mer.reports.summaries", "mer.reports.figures", "mer.reports.comparison")


def test_registry_and_reports_import_without_torch():
    code = (f"import sys\nimport {', '.join(LIGHT)}\nimport mer.models as m\n"
            "assert m.is_baseline('RIDGE') and not m.has_attention('LSTM_8')\n"
            "print(sorted(k for k in ('torch', 'sklearn', 'matplotlib') if k in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
def test_each_family_builder_resolves_to_its_class(family):
    builder = MODEL_FAMILIES[family].builder
    assert builder.__name__ == MODEL_FAMILIES[family].builder_name
    assert builder.__module__.startswith("mer.models.")
    name = family if MODEL_FAMILIES[family].sizeless else f"{family}_{1 if family == 'TRANSFORMER' else 4}"
    options = {"d_model": 8, "heads": 2, "ff_dim": 8} if family == "TRANSFORMER" else {}
    assert isinstance(build_model(name, 3, **options), builder)


def test_unknown_attribute_is_an_attribute_error():
    import mer.models
    with pytest.raises(AttributeError):
        mer.models.NoSuchModel  # noqa: B018


def test_predict_starts_its_feature_worker_before_torch_and_pandas():
    # `mer predict` forks its feature worker once mer.predict is imported: what that import
    # pulls in is paid before the fork, one process after the other (mer.predict_worker)
    code = ("import sys\nimport mer.cli, mer.predict, mer.predict_worker\n"
            "print(sorted(k for k in ('torch', 'pandas', 'sklearn', 'librosa', 'scipy', "
            "'matplotlib') if k in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
