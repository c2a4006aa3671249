import { z } from 'zod';
import type { RootFs } from '../../../lib/fs/index.js';
import { PATHS } from './paths.js';

/**
 * /run/contextualization/status.json: what the last runs of this boot did, step by step.
 * Each stage (local, final, ...) records its own entry; a later stage keeps the earlier ones,
 * so `contextualization status` shows the whole boot.
 */

export type StepResult = 'ok' | 'failed' | 'skipped';
export type OverallResult = 'ok' | 'failed';
export type SourceKind = 'device' | 'iso' | 'dir' | 'none';

export interface StepStatus {
  name: string;
  result: StepResult;
  message: string;
  durationMs: number;
  /** ISO 8601 time the step started. */
  startedAt: string;
}

export interface SourceStatus {
  kind: SourceKind;
  /** Device node, ISO file or directory the context came from. */
  path?: string;
  label?: string;
  method?: 'mount' | 'reader';
  /** Key id of the signature the context was accepted with (when the image trusts keys). */
  signer?: string;
}

export interface StageStatus {
  /** CLI command that ran: local, final, boot... */
  stage: string;
  result: OverallResult;
  startedAt: string;
  durationMs: number;
  steps: StepStatus[];
}

export interface Status {
  schema: 1;
  agentVersion: string;
  instanceId?: string;
  source: SourceStatus;
  /** failed when any stage failed. */
  result: OverallResult;
  updatedAt: string;
  stages: StageStatus[];
}

/** Times steps of one stage; `finish()` gives the StageStatus. */
export class StageRecorder {
  readonly steps: StepStatus[] = [];
  private readonly started = Date.now();
  constructor(readonly stage: string) {}

  /** Record an already-measured step. */
  add(step: StepStatus): void {
    this.steps.push(step);
  }

  /**
   * Run one step and record it. The function returns the result and message; a throw records
   * `failed` with the error message and is re-thrown so the caller decides whether to go on.
   */
  async run<T extends { result: StepResult; message: string }>(name: string, fn: () => Promise<T> | T): Promise<T> {
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const out = await fn();
      this.add({ name, result: out.result, message: out.message, durationMs: elapsed(t0), startedAt: startedAt.toISOString() });
      return out;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.add({ name, result: 'failed', message, durationMs: elapsed(t0), startedAt: startedAt.toISOString() });
      throw err;
    }
  }

  finish(): StageStatus {
    return {
      stage: this.stage,
      result: this.steps.some((s) => s.result === 'failed') ? 'failed' : 'ok',
      startedAt: new Date(this.started).toISOString(),
      durationMs: Date.now() - this.started,
      steps: [...this.steps],
    };
  }
}

function elapsed(t0: number): number {
  return Math.round(performance.now() - t0);
}

/** Combine a finished stage with the status already on disk (same stage replaced, others kept). */
export function mergeStage(
  previous: Status | undefined,
  stage: StageStatus,
  meta: { agentVersion: string; instanceId?: string; source?: SourceStatus },
): Status {
  // A different instance means the earlier stages describe another context: drop them.
  const keep =
    previous && (meta.instanceId === undefined || previous.instanceId === meta.instanceId)
      ? previous.stages.filter((s) => s.stage !== stage.stage)
      : [];
  const stages = [...keep, stage];
  const status: Status = {
    schema: 1,
    agentVersion: meta.agentVersion,
    source: meta.source ?? previous?.source ?? { kind: 'none' },
    result: stages.some((s) => s.result === 'failed') ? 'failed' : 'ok',
    updatedAt: new Date().toISOString(),
    stages,
  };
  const instanceId = meta.instanceId ?? previous?.instanceId;
  if (instanceId !== undefined) status.instanceId = instanceId;
  return status;
}

export function writeStatus(fs: RootFs, status: Status): void {
  fs.ensureDir(PATHS.runDir, 0o755);
  // 0644: status holds no secrets and `contextualization status` may run unprivileged.
  fs.writeFileAtomic(PATHS.statusFile, `${JSON.stringify(status, null, 2)}\n`, 0o644);
}

const StepSchema = z.object({
  name: z.string(), result: z.enum(['ok', 'failed', 'skipped']), message: z.string(), durationMs: z.number(), startedAt: z.string(),
}).passthrough();
const StatusSchema = z.object({
  schema: z.literal(1),
  agentVersion: z.string(),
  instanceId: z.string().optional(),
  source: z.object({ kind: z.enum(['device', 'iso', 'dir', 'none']), path: z.string().optional(), label: z.string().optional(), method: z.enum(['mount', 'reader']).optional(), signer: z.string().optional() }).passthrough(),
  result: z.enum(['ok', 'failed']),
  updatedAt: z.string(),
  stages: z.array(z.object({ stage: z.string(), result: z.enum(['ok', 'failed']), startedAt: z.string(), durationMs: z.number(), steps: z.array(StepSchema) }).passthrough()),
}).passthrough();

/** The status on disk, or undefined when there is none (no run yet this boot). Throws on a corrupt file. */
export function readStatus(fs: RootFs): Status | undefined {
  const where = fs.host(PATHS.statusFile);
  const text = fs.readText(PATHS.statusFile, { maxBytes: 16 * 1024 * 1024 });
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not valid JSON`, { cause: e });
  }
  const r = StatusSchema.safeParse(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${where}: not a contextualization status (schema 1): ${issue?.path.join('.') || '(top)'}: ${issue?.message}`);
  }
  return r.data as Status;
}

/** Multi-line report for `contextualization status`. */
export function formatStatus(status: Status): string {
  const lines: string[] = [];
  lines.push(`contextualization ${status.agentVersion}: ${status.result.toUpperCase()}`);
  lines.push(`  instance: ${status.instanceId ?? '(none)'}`);
  lines.push(`  source:   ${describeSource(status.source)}`);
  lines.push(`  updated:  ${status.updatedAt}`);
  for (const stage of status.stages) {
    lines.push(`  stage ${stage.stage}: ${stage.result} in ${stage.durationMs} ms (started ${stage.startedAt})`);
    const width = Math.max(0, ...stage.steps.map((s) => s.name.length));
    for (const s of stage.steps) {
      const msg = s.message ? `  ${oneLine(s.message)}` : '';
      lines.push(`    ${s.name.padEnd(width)}  ${s.result.padEnd(7)} ${String(s.durationMs).padStart(6)} ms${msg}`);
    }
  }
  return lines.join('\n');
}

/** One console line, e.g. "contextualization: ok (instance vm-1, device /dev/sr0): network ok, hostname ok, post-install skipped". */
export function formatSummaryLine(status: Status): string {
  const stage = status.stages[status.stages.length - 1];
  const steps = stage ? stage.steps.map((s) => `${s.name} ${s.result}`).join(', ') : 'no steps';
  const failed = stage?.steps.filter((s) => s.result === 'failed').map((s) => `${s.name}: ${oneLine(s.message)}`) ?? [];
  const where = `instance ${status.instanceId ?? 'none'}, ${describeSource(status.source)}`;
  const head = `contextualization${stage ? ` ${stage.stage}` : ''}: ${status.result} (${where}): ${steps}`;
  return failed.length > 0 ? `${head}; ${failed.join('; ')}` : head;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' | ');
}

function describeSource(src: SourceStatus): string {
  if (src.kind === 'none') return 'no context';
  const bits = [src.kind, src.path ?? ''];
  if (src.label) bits.push(`label ${src.label}`);
  if (src.method) bits.push(`via ${src.method}`);
  if (src.signer) bits.push(`signed by key ${src.signer}`);
  return bits.filter(Boolean).join(' ');
}
