"""The ``mer`` command line: inspect feature sets and models, check params.

The pipeline itself runs through Snakemake (``snakemake --cores 8``) or DVC
(``dvc repro``); these commands help before and around a run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mer.errors import MerError

COMPARE_DIMS = 6373


def _params_check(args) -> int:
    from mer.config import load_params
    params_path = Path(args.params)
    schema = Path(args.schema) if args.schema else params_path.parent / "workflow/schemas/params.schema.yaml"
    params = load_params(params_path, schema)
    print(f"{params_path}: valid (dataset {params['dataset']}, {len(params['train']['models'])} "
          f"model(s) x {len(params['features']['sets'])} feature set(s) x "
          f"{len(params['train']['targets'])} target(s) x {params['cv']['folds']} folds)")
    return 0


def _features_list(args) -> int:
    from mer.features import FEATURE_SETS
    width = max(map(len, FEATURE_SETS))
    print(f"{'set':<{width}}  {'dims':>5}  blocks")
    for name, spec in FEATURE_SETS.items():
        print(f"{name:<{width}}  {spec.dims:>5}  {' + '.join(spec.blocks)}")
    return 0


def _models_describe(args) -> int:
    from mer.models import describe_model
    print(describe_model(args.name, args.input_dim))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    params = commands.add_parser("params", help="parameter files").add_subparsers(dest="action", required=True)
    check = params.add_parser("check", help="validate a params.yaml against the schema and registries")
    check.add_argument("params", nargs="?", default="params.yaml")
    check.add_argument("--schema", help="schema file (default: workflow/schemas/ next to params)")
    check.set_defaults(handler=_params_check)

    features = commands.add_parser("features", help="feature sets").add_subparsers(dest="action", required=True)
    features.add_parser("list", help="every feature set with its dims and blocks").set_defaults(handler=_features_list)

    models = commands.add_parser("models", help="model families").add_subparsers(dest="action", required=True)
    describe = models.add_parser("describe", help="architecture and parameter count of a model name")
    describe.add_argument("name", help="e.g. LSTM_400, AT_2048_1024, BAT_1024, TRANSFORMER_2")
    describe.add_argument("--input-dim", type=int, default=COMPARE_DIMS,
                          help=f"input features per frame (default {COMPARE_DIMS}, ComParE)")
    describe.set_defaults(handler=_models_describe)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except MerError as error:
        print(f"mer: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
