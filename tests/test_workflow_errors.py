"""Bad params under the real Snakemake: refused at parse time, before any job or deletion.

Each case costs one Snakefile parse (~5 s); no job runs.
"""

import pytest

from workflow_helpers import MINIMAL, copy_repo, run, write_params

pytestmark = pytest.mark.slow


def test_more_folds_than_songs_stops_snakemake_before_folds_csv_is_deleted(tmp_path):
    repo = copy_repo(tmp_path)
    write_params(repo, {**MINIMAL, "cv": {"folds": 7, "validation_fraction": 0.25}})  # 6 songs
    folds = repo / "results/synthetic/folds.csv"
    folds.parent.mkdir(parents=True)
    folds.write_text("song_id,fold\n")  # a previous run's split
    for command in (["snakemake", "-n"], ["snakemake", "--cores", "1"]):
        result = run(command, repo, check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "`cv.folds`: 7 folds but dataset 'synthetic' has 6 songs" in output, output[-2000:]
        assert folds.read_text() == "song_id,fold\n"
        assert not (repo / "data").exists()
    result = run(["mer", "params", "check", "params.yaml"], repo, check=False)
    assert result.returncode == 2 and "`cv.folds`: 7 folds" in result.stderr

def test_yaml_syntax_error_keeps_its_line_under_snakemake(tmp_path):
    repo = copy_repo(tmp_path)
    write_params(repo, MINIMAL)
    lines = (repo / "params.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    lines.insert(at + 1, "\tseed_typo: [1")  # a tab and an unclosed bracket on line at + 2
    (repo / "params.yaml").write_text("\n".join(lines) + "\n")
    result = run(["snakemake", "-n"], repo, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"params.yaml, line {at + 2}, column 1: invalid YAML" in output, output[-2000:]
    assert "seed_typo" in output  # the offending line is shown
    with_mer = run(["mer", "params", "check", "params.yaml"], repo, check=False)
    assert f"line {at + 2}, column 1" in with_mer.stderr
