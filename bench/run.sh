#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Wall-time figures need an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx bench/iso.ts
echo
npx tsx bench/agent.ts
echo
npx tsx bench/batch.ts
echo
npx tsx bench/startup.ts 15 --guest
