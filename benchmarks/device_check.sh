#!/usr/bin/env bash
# GPU checks, run on a machine with CUDA (see README "GPU"): the tests marked `cuda`, the
# per-device cell timing and benchmarks/speed.py on the GPU. Missing pure-Python dependencies
# may be given as wheels in .whl/.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
$PY -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/pkg . || exit 1
export PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi -L
$PY -c "import torch, avalanche; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
cd /tmp && cp -r "$OLDPWD/tests" /tmp/tests_gpu && \
  $PY -m pytest -q -m cuda /tmp/tests_gpu/test_cuda.py -p no:cacheprovider -rA 2>&1 | tail -15
cd "$OLDPWD" && PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH} $PY benchmarks/cell_time.py --repeats 3
# one SplitMNIST cell four ways on the GPU (reports/speed/speed-cuda.{json,md}); ~5 min
PYTHONPATH=/tmp/pkg${PYTHONPATH:+:$PYTHONPATH} $PY benchmarks/speed.py --device cuda --rounds 2
