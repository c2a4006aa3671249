#!/usr/bin/env bash
# Runs every benchmark and prints its figures. Wall-time figures need an otherwise idle machine.
# The guest boot benchmark (bench/boot.ts, 8 TCG boots, 20-40 min) is separate: npm run bench:boot.
set -euo pipefail
cd "$(dirname "$0")/.."
# bench/batch.ts compares against a shell loop that calls virt-install (Debian package virtinst).
if ! command -v virt-install >/dev/null; then
  apt-get install -y --no-install-recommends virtinst || echo "bench: virtinst not installed; bench/batch.ts skips the shell-loop comparison" >&2
fi
npx tsx bench/iso.ts
echo
npx tsx bench/agent.ts
echo
npx tsx bench/batch.ts

echo
npx tsx bench/identity.ts
echo
npx tsx bench/startup.ts 15 --guest
