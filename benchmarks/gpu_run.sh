#!/usr/bin/env bash
# The GPU check (benchmarks/gpu.py) in one command on a machine with a GPU (docs/gpu.md):
#
#   bash benchmarks/gpu_run.sh OUT.md [gpu.py options]     # ~4-5 min on one GPU
#
# It needs no install of mer (PYTHONPATH=src) and picks the first Python whose torch sees
# a CUDA GPU: .venv/bin/python, then python3 (CUDA images ship torch there). mer's other
# needs that such a Python lacks (snakemake, librosa, jsonschema, ...: the workflow and
# grid sections) come from wheels in benchmarks/results/wheels, installed into
# /tmp/mer-site without an index (GPU machines often have no internet). Make the wheels
# once on a machine with PyPI, from this repo's .venv (same versions as the tests):
#
#   bash benchmarks/gpu_run.sh --fetch-wheels             # ~30 MB, Python 3.12, x86-64
#
# Without any Python whose torch sees a GPU it runs on the CPU (.venv, or python3 with
# torch), and gpu.py says so. Where no torch exists at all it stops, unless MER_GPU_VENV=1
# asks it to create .venv-gpu with torch from PyPI (several GB with its CUDA libraries:
# minutes, and internet).
# The check is stopped after MER_GPU_CHECK_TIMEOUT seconds (default 420); the tables
# measured by then are in OUT.md (it is rewritten after each section).
set -uo pipefail
cd "$(dirname "$0")/.."
WHEELS=benchmarks/results/wheels
LIMIT=${MER_GPU_CHECK_TIMEOUT:-420}
PLATFORMS="--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64
  --platform manylinux_2_24_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64
  --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64 --platform manylinux_2_35_x86_64"

torch_sees_gpu() { "$1" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" >/dev/null 2>&1; }
has_torch() { "$1" -c "import torch" >/dev/null 2>&1; }

if [ "${1:-}" = "--fetch-wheels" ]; then
    PY=${PYTHON:-.venv/bin/python}
    mkdir -p "$WHEELS"
    # mer's run-time needs beyond what a CUDA PyTorch image has (numpy, scipy, pandas, torch,
    # matplotlib, numba, ...), at this venv's versions: their dependency closure
    requirements=$("$PY" - <<'EOF'
import importlib.metadata as md, re
from packaging.markers import Marker
image = set("numpy scipy pandas scikit-learn numba llvmlite matplotlib pillow torch contourpy "
            "fonttools kiwisolver pyarrow sympy networkx triton setuptools pip joblib "
            "threadpoolctl".split())
target = {"python_version": "3.12", "extra": "", "sys_platform": "linux", "platform_system": "Linux",
          "platform_machine": "x86_64", "implementation_name": "cpython",
          "platform_python_implementation": "CPython", "os_name": "posix"}
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
seen, todo = {}, ["snakemake", "librosa", "jsonschema", "soundfile", "pyyaml", "pooch", "tqdm"]
while todo:
    name = norm(todo.pop())
    if name in seen or name in image or name.startswith("nvidia-"):
        continue
    seen[name] = md.distribution(name).version
    for requirement in md.distribution(name).requires or []:
        if ";" in requirement and not Marker(requirement.split(";", 1)[1]).evaluate(target):
            continue
        todo.append(re.split(r"[ ;<>=!~\[(]", requirement, maxsplit=1)[0])
print("\n".join(f"{name}=={version}" for name, version in sorted(seen.items())))
EOF
) || exit 1
    for requirement in $requirements; do
        # a binary wheel for CPython 3.12 on x86-64; else build one (pure-Python sdists)
        "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp $PLATFORMS -d "$WHEELS" "$requirement" >/dev/null 2>&1 ||
            "$PY" -m pip wheel -q --no-deps -w "$WHEELS" "$requirement" >/dev/null 2>&1 ||
            { echo "no wheel for $requirement" >&2; exit 1; }
    done
    echo "$(ls "$WHEELS" | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1), in $WHEELS"
    exit 0
fi

OUT=${1:?usage: bash benchmarks/gpu_run.sh OUT.md [gpu.py options] | --fetch-wheels}
shift
PY=
for candidate in .venv/bin/python python3; do
    if command -v "$candidate" >/dev/null && torch_sees_gpu "$candidate"; then PY=$candidate; break; fi
done
if [ -z "$PY" ]; then
    for candidate in .venv/bin/python python3; do
        if command -v "$candidate" >/dev/null && has_torch "$candidate"; then PY=$candidate; break; fi
    done
fi
if [ -z "$PY" ] && [ -x .venv-gpu/bin/python ]; then PY=.venv-gpu/bin/python; fi
if [ -z "$PY" ]; then
    if [ "${MER_GPU_VENV:-0}" != 1 ]; then
        echo "no Python with torch here (.venv/bin/python, python3): run \`make setup\`, or" \
             "MER_GPU_VENV=1 bash $0 ... to create .venv-gpu with torch from PyPI (several GB" \
             "with its CUDA libraries; needs internet)" >&2
        exit 2
    fi
    python3 -m venv .venv-gpu && .venv-gpu/bin/python -m pip install -q torch numpy pyyaml \
        jsonschema snakemake librosa soundfile pandas scipy scikit-learn || exit 1
    PY=.venv-gpu/bin/python
fi
echo "Python: $(command -v "$PY") ($("$PY" -c 'import torch; print("torch", torch.__version__, "CUDA" if torch.cuda.is_available() else "no CUDA")'))"

if compgen -G "$WHEELS/*.whl" >/dev/null; then
    # the carried wheels of packages this Python lacks (one version each: the image's wins)
    missing=$("$PY" - "$WHEELS" <<'EOF'
import importlib.metadata as md, pathlib, sys
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    try:
        md.distribution(wheel.name.split("-")[0])
    except md.PackageNotFoundError:
        print(wheel)
EOF
)
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086 (one path per wheel)
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/mer-site $missing && export PYTHONPATH=/tmp/mer-site${PYTHONPATH:+:$PYTHONPATH}
        echo "installed $(echo "$missing" | wc -l) carried wheels into /tmp/mer-site"
    fi
fi

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$(dirname "$OUT")"
timeout --kill-after=10 "$LIMIT" "$PY" benchmarks/gpu.py --out "$OUT" "$@"
status=$?
[ $status -eq 124 ] && echo "stopped after $LIMIT s: $OUT holds the sections measured by then" >&2
exit $status
