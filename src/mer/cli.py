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
    from mer.config import grid_runs, load_params
    params_path = Path(args.params)
    schema = Path(args.schema) if args.schema else params_path.parent / "workflow/schemas/params.schema.yaml"
    params = load_params(params_path, schema)
    print(f"{params_path}: valid (dataset {params['dataset']}, grid {params['grid']}: "
          f"{len(grid_runs(params))} (feature set, model) run(s) x "
          f"{len(params['train']['targets'])} target(s) x {params['cv']['folds']} folds)")
    return 0


def _features_list(args) -> int:
    from mer.features import FEATURE_SETS
    width = max(map(len, FEATURE_SETS))
    print(f"{'set':<{width}}  {'dims':>5}  blocks")
    for name, spec in FEATURE_SETS.items():
        shipped = "  (read from DEAM's features/<id>.csv; dataset: deam only)" if spec.precomputed else ""
        print(f"{name:<{width}}  {spec.dims:>5}  {' + '.join(spec.blocks)}{shipped}")
    return 0


def _features_extract(args) -> int:
    from mer.features.storage import extract_files
    arrays = extract_files([Path(p) for p in args.audio], args.set, Path(args.output),
                           annotated_only=args.annotated, compare_mode=args.compare_mode,
                           progress=not args.quiet)
    print(f"{args.output}: {args.set} features, {arrays['values'].shape[0]} frames x "
          f"{arrays['values'].shape[1]} dims from {len(args.audio)} file(s)")
    return 0


def _models_describe(args) -> int:
    from mer.models import describe_model
    print(describe_model(args.name, args.input_dim))
    return 0


def _predict(args) -> int:
    from mer.predict import run_predict
    return run_predict(args.songs, model_dirs=args.model, models_root=args.models_root,
                       out_dir=args.out, plot=args.plot, feature_set=args.features,
                       progress=not args.quiet)


def _data_check(args) -> int:
    from mer.data.check import check_dataset
    report = check_dataset(args.dir, args.dataset, decode=args.decode)
    print(report.format())
    return 0 if report.ok else 1


def _unlock_stale(args) -> int:
    from mer.runlock import LOCK_DIR, unlock_stale
    removed, live = unlock_stale(args.dir)
    if live:
        print(f"mer unlock-stale: {args.dir} is locked by a live snakemake (pid "
              f"{', '.join(map(str, live))}); not unlocking", file=sys.stderr)
        return 1
    if removed:
        print(f"mer unlock-stale: removed the stale Snakemake lock of {Path(args.dir).resolve()} "
              f"({len(removed)} file(s) in {LOCK_DIR}/, left by a killed run)")
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
    extract = features.add_parser(
        "extract", help="extract one feature set for any audio files into one .npz",
        description="Writes values (frames x dims, float32, all files' frames in order), "
                    "file_index, frame (whole-clip index k), start_s/end_s (the 500 ms "
                    "frame k covers, in seconds), files, columns. If any file fails, every "
                    "failure is listed and nothing is written.")
    extract.add_argument("set", help="feature set name (see `mer features list`)")
    extract.add_argument("audio", nargs="+", help="audio files (mp3, wav, flac, ogg, ...)")
    extract.add_argument("-o", "--output", required=True, help="output .npz file")
    frames = extract.add_mutually_exclusive_group()
    frames.add_argument("--all-frames", dest="annotated", action="store_false",
                        help="every whole 500 ms frame of each file (default)")
    frames.add_argument("--annotated", dest="annotated", action="store_true",
                        help="only emoMusic's 61 annotated frames 29..89 (15.0-45.0 s)")
    extract.add_argument("--compare-mode", default="per_segment",
                         choices=["per_segment", "one_pass"],
                         help="openSMILE ComParE definition (default per_segment)")
    extract.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    extract.set_defaults(handler=_features_extract, annotated=False)

    data = commands.add_parser("data", help="datasets").add_subparsers(dest="action", required=True)
    data_check = data.add_parser("check", help="validate a dataset copy (audio, annotations, columns, "
                                               "ranges); exit 1 with a report if something is off")
    data_check.add_argument("dir", help="the dataset folder")
    data_check.add_argument("--dataset", choices=["emomusic", "deam"], default="emomusic",
                            help="layout of DIR (default emomusic)")
    data_check.add_argument("--decode", action="store_true",
                            help="also decode every clip and check its length (slow)")
    data_check.set_defaults(handler=_data_check)

    models = commands.add_parser("models", help="model families").add_subparsers(dest="action", required=True)
    describe = models.add_parser("describe", help="architecture and parameter count of a model name")
    describe.add_argument("name", help="e.g. LSTM_400, AT_2048_1024, BAT_1024, TRANSFORMER_2")
    describe.add_argument("--input-dim", type=int, default=COMPARE_DIMS,
                          help=f"input features per frame (default {COMPARE_DIMS}, ComParE)")
    describe.set_defaults(handler=_models_describe)

    predict = commands.add_parser(
        "predict", help="arousal and valence curves (2 Hz) of any music files",
        description="Writes <out>/<song>.csv (time_s = end of each whole 500 ms frame, "
                    "arousal, valence) per song, and <song>.png with --plot. Models are the "
                    "bundles `snakemake --cores 8 export` writes under models/. Exit code 1 "
                    "if any song could not be read (the others are still predicted).")
    predict.add_argument("songs", nargs="+", metavar="SONG", help="audio files (mp3, wav, flac, ogg)")
    predict.add_argument("--model", action="append", metavar="DIR",
                         help="a bundle folder, or a folder holding bundles; repeat for "
                              "arousal and valence (default: search --models-root)")
    predict.add_argument("--models-root", default="models", metavar="DIR",
                         help="where to look for bundles without --model (default models/)")
    predict.add_argument("--features", metavar="NAME",
                         help="require bundles trained on this feature set")
    predict.add_argument("--out", default="predictions", metavar="DIR",
                         help="output folder (default predictions/)")
    predict.add_argument("--plot", action="store_true",
                         help="also write a PNG of the curves and attention maps")
    predict.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    predict.set_defaults(handler=_predict)

    unlock = commands.add_parser(
        "unlock-stale", help="remove Snakemake's lock left by a killed run (only if no "
                             "snakemake on this machine works in DIR)",
        description="After a hard kill (OOM, closed terminal) Snakemake's lock stays in "
                    ".snakemake/locks and the next run stops with LockException. This removes "
                    "it, as `snakemake --unlock` does, but only when no snakemake process on "
                    "this machine has DIR as its working directory (exit 1 if one does). A run "
                    "on another machine sharing DIR cannot be seen: do not use it then.")
    unlock.add_argument("dir", nargs="?", default=".", help="the workflow folder (default .)")
    unlock.set_defaults(handler=_unlock_stale)
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
