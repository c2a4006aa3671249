#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Wall-time figures need an otherwise idle machine.
# The guest boot benchmark (bench/boot.ts, 8 TCG boots, 20-40 min) is separate: npm run bench:boot.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx bench/iso.ts
echo
npx tsx bench/agent.ts
echo
npx tsx bench/batch.ts
