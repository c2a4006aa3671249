import { describe, expect, it } from 'vitest';
import { chooseFallbackNic, naturalCompare } from '../../agent/src/plan/fallback-nic.js';
import type { SystemNic } from '../../agent/src/types/network.js';

const nic = (name: string, carrier: boolean | undefined, physical = true): SystemNic => ({
  name,
  mac: `52:54:00:00:00:${String(name.length).padStart(2, '0')}`,
  carrier,
  physical,
});

describe('DHCP fallback NIC choice', () => {
  it('prefers eth0 when it has carrier', () => {
    const r = chooseFallbackNic([nic('eth1', true), nic('eth0', true)]);
    expect(r.nic?.name).toBe('eth0');
    expect(r.reason).toBe('DHCP fallback on eth0 (52:54:00:00:00:04): has carrier, eth0 preferred');
  });

  it('a NIC with carrier beats eth0 without', () => {
    expect(chooseFallbackNic([nic('eth0', false), nic('eth1', true)]).nic?.name).toBe('eth1');
    expect(chooseFallbackNic([nic('eth0', undefined), nic('ens4', true)]).nic?.name).toBe('ens4');
  });

  it('with no carrier known (links still down at boot), eth0 then natural name order', () => {
    expect(chooseFallbackNic([nic('eth1', undefined), nic('eth0', undefined)]).nic?.name).toBe('eth0');
    const r = chooseFallbackNic([nic('ens10', undefined), nic('ens3', undefined), nic('ens4', undefined)]);
    expect(r.nic?.name).toBe('ens3');
    expect(r.reason).toContain('carrier unknown, first by name');
  });

  it('unknown carrier beats known no-carrier', () => {
    expect(chooseFallbackNic([nic('ens3', false), nic('ens10', undefined)]).nic?.name).toBe('ens10');
  });

  it('never picks a virtual interface', () => {
    const r = chooseFallbackNic([nic('lo', true, false), nic('br0', true, false), nic('ens5', undefined)]);
    expect(r.nic?.name).toBe('ens5');
  });

  it('gives a clear result when there is no physical NIC', () => {
    expect(chooseFallbackNic([nic('lo', true, false), nic('docker0', true, false)])).toEqual({
      nic: undefined,
      reason: 'no physical network interface for DHCP fallback (interfaces seen: lo, docker0)',
    });
    expect(chooseFallbackNic([]).reason).toBe('no physical network interface for DHCP fallback (interfaces seen: none)');
  });

  it('orders names naturally', () => {
    const names = ['ens10', 'eth10', 'ens3', 'eth2', 'enp0s3', 'enp0s10', 'ens03'];
    expect([...names].sort(naturalCompare)).toEqual(['enp0s3', 'enp0s10', 'ens3', 'ens03', 'ens10', 'eth2', 'eth10']);
  });
});
