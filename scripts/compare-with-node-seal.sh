#!/usr/bin/env bash
# Runs node-seal (Microsoft SEAL 4.1 as WebAssembly) and `veil bench ckks` in one sitting, one after the other,
# and prints Veil's table with the ratio column. Results go to ${OUT:-bench-results}/.
# Usage: scripts/compare-with-node-seal.sh [REPS] [THREADS...]     e.g. scripts/compare-with-node-seal.sh 30 1 2
# Needs ../shared/peers/node-seal-bench.sh (beside the repository) and network access to the npm registry once.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-30}; shift || true
threads=("${@:-1}")
out=${OUT:-bench-results}
mkdir -p "$out"
peer=../shared/peers/node-seal-bench.sh
[[ -x $peer || -f $peer ]] || { echo "missing $peer" >&2; exit 1; }
dotnet build src/Veil.Cli -c Release -v q -nologo >/dev/null
echo "node-seal, $reps reps …" >&2
bash "$peer" "$reps" > "$out/node-seal.txt"
for t in "${threads[@]}"; do
  echo "veil, $t thread(s), $reps reps …" >&2
  dotnet src/Veil.Cli/bin/Release/net10.0/veil.dll bench ckks --reps "$reps" --threads "$t" \
    --compare "$out/node-seal.txt" --out "$out/veil-t$t.json" | tee "$out/veil-t$t.txt"
done
