import { describe, expect, it } from 'vitest';
import {
  CLOUD_INIT_UNITS,
  median,
  parseAnalyzeTime,
  parseBlame,
  parseClock,
  parseManager,
  parseSystemdDuration,
  parseUnitTimes,
  splitStage,
  sumUnits,
} from '../../bench/boot-figures.js';

// The parsers bench/boot.ts applies to what systemd 252 (bookworm) prints in the guest; the inputs
// are lines in the exact shapes systemd-analyze and `systemctl show` produce.

describe('bench/boot figures', () => {
  it('reads systemd durations in every unit systemd prints', () => {
    expect(parseSystemdDuration('18.123s')).toBeCloseTo(18.123);
    expect(parseSystemdDuration('812ms')).toBeCloseTo(0.812);
    expect(parseSystemdDuration('1min 2.345s')).toBeCloseTo(62.345);
    expect(parseSystemdDuration('1h 2min 3s')).toBeCloseTo(3723);
    expect(parseSystemdDuration('950us')).toBeCloseTo(0.00095);
    expect(parseSystemdDuration('soon')).toBeUndefined();
    expect(parseSystemdDuration('3s later')).toBeUndefined();
  });

  it('reads blame lines and sums cloud-init\'s four units (absent units count 0)', () => {
    const blame = parseBlame(
      [
        '     18.104s cloud-init-local.service',
        '1min 2.500s cloud-config.service',
        '    16.312s cloud-init.service',
        '      812ms systemd-udevd.service',
        'Bootup is not yet finished.',
      ].join('\n'),
    );
    expect(blame.get('cloud-config.service')).toBeCloseTo(62.5);
    expect(blame.get('systemd-udevd.service')).toBeCloseTo(0.812);
    expect(blame.size).toBe(4);
    expect(sumUnits(blame, CLOUD_INIT_UNITS)).toBeCloseTo(18.104 + 62.5 + 16.312);
  });

  it('reads systemd-analyze time with and without an initrd', () => {
    expect(parseAnalyzeTime('Startup finished in 2.103s (kernel) + 5.321s (initrd) + 1min 3.200s (userspace) = 1min 10.624s\nmulti-user.target reached after 1min 2s in userspace.')).toEqual({
      kernelS: 2.103,
      initrdS: 5.321,
      userspaceS: 63.2,
      totalS: 70.624,
    });
    const noInitrd = parseAnalyzeTime('Startup finished in 1.5s (kernel) + 20.25s (userspace) = 21.75s');
    expect(noInitrd).toMatchObject({ kernelS: 1.5, userspaceS: 20.25, totalS: 21.75 });
    expect(noInitrd?.initrdS).toBeUndefined();
    expect(parseAnalyzeTime('Bootup is not yet finished (org.freedesktop.systemd1.Manager.FinishTimestampMonotonic=0).')).toBeUndefined();
  });

  it('reads unit and manager timestamps (0 = never happened)', () => {
    const units = parseUnitTimes(
      [
        'ExecMainStartTimestampMonotonic=9100000',
        'ExecMainExitTimestampMonotonic=21400000',
        'Id=contextualization-local.service',
        'InactiveExitTimestampMonotonic=9000000',
        'ActiveEnterTimestampMonotonic=21500000',
        '',
        'ExecMainStartTimestampMonotonic=0',
        'ExecMainExitTimestampMonotonic=0',
        'Id=contextualization-final.service',
        'InactiveExitTimestampMonotonic=0',
        'ActiveEnterTimestampMonotonic=0',
        '',
      ].join('\n'),
    );
    expect(units.get('contextualization-local.service')).toEqual({ activatingS: 9, activeS: 21.5, execStartS: 9.1, execExitS: 21.4 });
    expect(units.get('contextualization-final.service')).toEqual({});
    expect(parseManager('UserspaceTimestampMonotonic=7000000\nFinishTimestampMonotonic=70624000\n')).toEqual({ userspaceS: 7, finishS: 70.624 });
    expect(parseClock('1764637200.500000000 80.25')).toEqual({ realMinusMonoS: 1764637200.5 - 80.25 });
  });

  it('splits a unit\'s time around its stage on the guest\'s monotonic clock', () => {
    // Wall clock = uptime + 1,000,000 s. The stage started at uptime 20 s and ran 800 ms.
    const offset = 1_000_000;
    const split = splitStage(
      { stage: 'local', startedAt: new Date((offset + 20) * 1000).toISOString(), durationMs: 800 },
      { activatingS: 9, activeS: 21.5 },
      offset,
    );
    expect(split.stage).toBe('local');
    expect(split.beforeS).toBeCloseTo(11);
    expect(split.afterS).toBeCloseTo(0.7);
    expect(splitStage({ stage: 'final', durationMs: 5 }, undefined, offset)).toEqual({ stage: 'final', stageMs: 5 });
  });

  it('takes medians of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});
