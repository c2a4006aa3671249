import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Per-boot figures, printed as a table after each variant and appended (JSON lines) to a temp file. */
export interface BootRow {
  variant: string;
  scenario: string;
  /** QEMU spawn -> report end marker on the console. */
  bootMs: number;
  /** Sum of the agent's stage durations from status.json (undefined when the agent left none). */
  agentMs?: number;
  /** Guest uptime when it printed the report, and when contextualization-local / network-online were done. */
  guestS?: number;
  localDoneS?: number;
  onlineS?: number;
  passed: boolean;
}

export const RESULTS_FILE = process.env.VM_RESULTS_FILE ?? join(tmpdir(), 'contextualization-vm-results.jsonl');

export function recordRow(row: BootRow): void {
  appendFileSync(RESULTS_FILE, JSON.stringify({ ...row, at: new Date().toISOString() }) + '\n');
}

const sec = (ms: number | undefined): string => (ms === undefined ? '-' : (ms / 1000).toFixed(1));

export function formatTable(rows: BootRow[], extra: string[] = []): string {
  const head = ['variant', 'scenario', 'boot s', 'agent s', 'guest: local done', 'net online', 'report', 'result'];
  const s1 = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(1));
  const body = rows.map((r) => [
    r.variant, r.scenario, sec(r.bootMs), sec(r.agentMs), s1(r.localDoneS), s1(r.onlineS), s1(r.guestS), r.passed ? 'pass' : 'FAIL',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...extra].join('\n');
}
