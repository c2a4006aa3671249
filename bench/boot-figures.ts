/**
 * Pure parsing and arithmetic for bench/boot.ts: what systemd-analyze and `systemctl show` printed in
 * a guest (bench/guest/boot-report), turned into seconds, and the three targets checked.
 */

/** systemd's human durations ("1min 2.345s", "812ms", "1h 2min 3s", "950us") in seconds. */
export function parseSystemdDuration(text: string): number | undefined {
  const unit: Record<string, number> = { h: 3600, min: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6 };
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(h|min|ms|us|µs|s)(?=\s|$)/g)];
  if (!parts.length || parts.map((p) => p[0]).join(' ') !== text.trim().replace(/\s+/g, ' ')) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2]!]!, 0);
}

/** `systemd-analyze blame` lines ("18.123s cloud-init.service") -> unit -> seconds. */
export function parseBlame(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^\s*(.+?)\s+(\S+\.(?:service|target|mount|socket|device|swap|timer|path|slice|scope))\s*$/.exec(line);
    if (!m) continue;
    const s = parseSystemdDuration(m[1]!);
    if (s !== undefined) out.set(m[2]!, s);
  }
  return out;
}

export interface AnalyzeTime {
  kernelS?: number;
  initrdS?: number;
  userspaceS?: number;
  totalS: number;
}

/** "Startup finished in 2.1s (kernel) + 5.3s (initrd) + 1min 3.2s (userspace) = 1min 10.6s". */
export function parseAnalyzeTime(text: string): AnalyzeTime | undefined {
  const m = /Startup finished in (.+?) = (.+?)\s*$/m.exec(text);
  if (!m) return undefined;
  const total = parseSystemdDuration(m[2]!);
  if (total === undefined) return undefined;
  const part = (name: string): number | undefined => {
    const p = new RegExp(`(?:^|\\+ )([^+]+?) \\(${name}\\)`).exec(m[1]!);
    return p ? parseSystemdDuration(p[1]!) : undefined;
  };
  return { kernelS: part('kernel'), initrdS: part('initrd'), userspaceS: part('userspace'), totalS: total };
}

/** Monotonic seconds since boot of one unit's transitions (undefined when it never happened). */
export interface UnitTimes {
  activatingS?: number;
  activeS?: number;
  execStartS?: number;
  execExitS?: number;
}

/** `systemctl show -p Id -p InactiveExitTimestampMonotonic ... UNIT...`: blank-line separated blocks (us, 0 = never). */
export function parseUnitTimes(text: string): Map<string, UnitTimes> {
  const out = new Map<string, UnitTimes>();
  for (const block of text.split(/\n\s*\n/)) {
    const kv = new Map([...block.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
    const id = kv.get('Id');
    if (!id) continue;
    const s = (k: string): number | undefined => {
      const v = Number(kv.get(k));
      return v > 0 ? v / 1e6 : undefined;
    };
    out.set(id, {
      activatingS: s('InactiveExitTimestampMonotonic'),
      activeS: s('ActiveEnterTimestampMonotonic'),
      execStartS: s('ExecMainStartTimestampMonotonic'),
      execExitS: s('ExecMainExitTimestampMonotonic'),
    });
  }
  return out;
}

/** `systemctl show -p UserspaceTimestampMonotonic -p FinishTimestampMonotonic` -> seconds. */
export function parseManager(text: string): { userspaceS?: number; finishS?: number } {
  const get = (k: string): number | undefined => {
    const m = new RegExp(`^${k}=(\\d+)$`, 'm').exec(text);
    return m && Number(m[1]) > 0 ? Number(m[1]) / 1e6 : undefined;
  };
  return { userspaceS: get('UserspaceTimestampMonotonic'), finishS: get('FinishTimestampMonotonic') };
}

/** "EPOCH_SECONDS UPTIME_SECONDS" read together in the guest: the offset from wall clock to uptime. */
export function parseClock(text: string): { realMinusMonoS: number } | undefined {
  const m = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/m.exec(text);
  return m ? { realMinusMonoS: Number(m[1]) - Number(m[2]) } : undefined;
}

export function median(values: number[]): number | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return undefined;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export const AGENT_UNITS = ['contextualization-local.service', 'contextualization-final.service'] as const;
export const CLOUD_INIT_UNITS = ['cloud-init-local.service', 'cloud-init.service', 'cloud-config.service', 'cloud-final.service'] as const;

/** Sum of the named units' blame times; units absent from blame (not run) count 0, as systemd counts them. */
export function sumUnits(blame: Map<string, number>, units: readonly string[]): number {
  return units.reduce((sum, u) => sum + (blame.get(u) ?? 0), 0);
}

/** Where one agent stage's unit time went: before the stage's first step, the stage, after it. */
export interface StageSplit {
  stage: string;
  stageMs: number;
  /** Unit activation -> the stage recorder's start: exec, the Node runtime, loading the bundle. */
  beforeS?: number;
  /** Stage end -> unit active: status write, exit, systemd noticing. */
  afterS?: number;
}

/**
 * Splits a unit's time around its stage, from status.json's wall-clock startedAt mapped onto the
 * monotonic clock with the guest's own wall-minus-uptime offset (same clock, read once).
 */
export function splitStage(
  stage: { stage: string; startedAt?: string; durationMs: number },
  unit: UnitTimes | undefined,
  realMinusMonoS: number | undefined,
): StageSplit {
  const out: StageSplit = { stage: stage.stage, stageMs: stage.durationMs };
  if (!unit || realMinusMonoS === undefined || !stage.startedAt) return out;
  const startMono = Date.parse(stage.startedAt) / 1000 - realMinusMonoS;
  const endMono = startMono + stage.durationMs / 1000;
  if (unit.activatingS !== undefined) out.beforeS = startMono - unit.activatingS;
  if (unit.activeS !== undefined) out.afterS = unit.activeS - endMono;
  return out;
}

export interface TargetCheck {
  name: string;
  met: boolean;
  /** Our figure, the limit, and (when missed) what the measured figures say about why. */
  detail: string;
}
