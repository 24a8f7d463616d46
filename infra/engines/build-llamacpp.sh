#!/usr/bin/env bash
# Builds llama.cpp's server (and its batched benchmark) from the llama.cpp sources vendored in
# the pinned llama-cpp-python sdist on PyPI, into $CAIRN_ENGINES_DIR/llamacpp-<version>/bin.
#
# Why from source: PyPI carries no llama-server binary for this CPU, and a GGML_NATIVE build dies
# with an illegal instruction on these machines (the compiler's -march=native enables AMX tiles
# that the hypervisor does not expose). So the ISA is chosen explicitly from /proc/cpuinfo:
# AVX-512 (with VNNI/VBMI/BF16 when present) or AVX2, never AMX.
# Idempotent: a finished build (bin/llama-server plus a stamp of the inputs) is kept.
set -euo pipefail
cd "$(dirname "$0")/../.."

VERSION="0.3.36"
SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
ENGINES_DIR="${CAIRN_ENGINES_DIR:-.cairn/engines}"
PREFIX="$ENGINES_DIR/llamacpp-$VERSION"
PY="${PYTHON:-.venv/bin/python}"

flags=(-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
       -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON)
cpu="$(grep -m1 '^flags' /proc/cpuinfo || true)"
has() { [[ " $cpu " == *" $1 "* ]]; }
if has avx512f && has avx512bw && has avx512vl; then
  flags+=(-DGGML_AVX512=ON)
  has avx512_vnni && flags+=(-DGGML_AVX512_VNNI=ON)
  has avx512vbmi && flags+=(-DGGML_AVX512_VBMI=ON)
  has avx512_bf16 && flags+=(-DGGML_AVX512_BF16=ON)
fi
stamp="$VERSION ${flags[*]}"
if [ -x "$PREFIX/bin/llama-server" ] && [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "llama.cpp $VERSION already built in $PREFIX"
  exit 0
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/cairn-llamacpp.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "downloading llama-cpp-python $VERSION sdist (llama.cpp sources)"
"$PY" -m pip download --quiet --no-deps --no-binary :all: --dest "$work" \
  "llama-cpp-python==$VERSION"
sdist="$work/llama_cpp_python-$VERSION.tar.gz"
echo "$SHA256  $sdist" | sha256sum --check --quiet
tar -xzf "$sdist" -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"

echo "building llama-server with: ${flags[*]}"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$work/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  "${flags[@]}" >"$work/cmake.log" 2>&1 || { tail -40 "$work/cmake.log"; exit 1; }
cmake --build "$work/build" --target llama-server llama-batched-bench -j "$(nproc)" \
  >"$work/build.log" 2>&1 || { tail -60 "$work/build.log"; exit 1; }

mkdir -p "$PREFIX/bin"
cp "$work/build/bin/llama-server" "$work/build/bin/llama-batched-bench" "$PREFIX/bin/"
cp "$src/LICENSE" "$PREFIX/LICENSE"
# Fails here, not at serving time, when the ISA choice does not run on this CPU.
"$PREFIX/bin/llama-server" --version >/dev/null 2>&1 || {
  echo "llama-server does not run on this CPU"; "$PREFIX/bin/llama-server" --version; exit 1; }
echo "$stamp" >"$PREFIX/.stamp"
echo "llama.cpp $VERSION built in $PREFIX"
