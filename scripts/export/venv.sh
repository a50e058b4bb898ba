#!/usr/bin/env bash
# Creates (once) the Python virtual environment of one MPC framework under target/export-venv/<name>, with pinned
# packages from PyPI, and prints its interpreter. Idempotent: an environment whose stamp matches is reused.
#   bash scripts/export/venv.sh mpyc|crypten|spu
set -euo pipefail
cd "$(dirname "$0")/../.."
name="${1:?usage: venv.sh mpyc|crypten|spu}"
case "$name" in
  mpyc)    pkgs=(mpyc==0.10 numpy==1.26.4 gmpy2==2.1.5) ;;
  # CrypTen 0.4.1 needs a torch from before 2.1 (its ONNX import); its setup asks for the deprecated 'sklearn' name.
  crypten) pkgs=(crypten==0.4.1 torch==2.0.1 torchvision==0.15.2 "numpy<2") ;;
  # spu 0.9.5: a CPython 3.11 wheel (Requires-Python >=3.10,<3.12) asking for jax[cpu] >=0.4.16,<=0.4.34, numpy<2
  # (its pyproject.toml); pinned at the top of that range, with the matching jaxlib.
  spu)     pkgs=(spu==0.9.5 jax==0.4.34 jaxlib==0.4.34 numpy==1.26.4) ;;
  *) echo "unknown framework '$name'; use mpyc, crypten or spu" >&2; exit 2 ;;
esac
dir="target/export-venv/$name"
stamp="$dir/.compact-stamp"
want="${pkgs[*]}"
if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$dir/bin/python"; exit 0
fi
py="${PYTHON:-python3}"
command -v "$py" >/dev/null || { echo "error: no '$py' on PATH; install CPython 3.11 with venv and pip to run the $name export check" >&2; exit 1; }
rm -rf "$dir"
"$py" -m venv "$dir" >&2 || { echo "error: '$py -m venv' failed; install the venv module (Debian: python3-venv)" >&2; exit 1; }
SKLEARN_ALLOW_DEPRECATED_SKLEARN_PACKAGE_INSTALL=True "$dir/bin/pip" install -q --disable-pip-version-check "${pkgs[@]}" >&2 \
  || { echo "error: pip could not install ${pkgs[*]} into $dir (is PyPI reachable?)" >&2; exit 1; }
echo "$want" > "$stamp"
echo "$dir/bin/python"
