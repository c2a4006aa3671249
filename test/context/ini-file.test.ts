import { describe, expect, it } from 'vitest';
import { parse, problemsOf } from './helpers.js';

const I = 'common/context.ini';
const ini = (text: string) => problemsOf({ [I]: text });

describe('common/context.ini: valid input', () => {
  it('reads every key', () => {
    const ctx = parse({
      [I]: [
        '# comment', '; also a comment', '[context]', 'version = 1', 'instance_id = vm-42:a.b_c', 'hostname = Web01.Example.org',
        'post_install = per-boot', 'post_install_timeout = 30', '',
        '[nic "52:54:00:AB:CD:EF"]', 'method = static', 'address = 192.168.122.17/24', 'gateway = 192.168.122.1',
        'broadcast = 192.168.122.255', 'ipv6 = 2001:DB8::17/64', 'ipv6_gateway = fe80::1', 'mtu = 9000',
        '[nic "eth1"]', 'method = dhcp', 'mtu = 1400',
        '[nic "52-54-00-00-00-02"]', 'method = manual',
        '[dns]', 'nameservers = 192.0.2.53, 2001:db8::53', 'search = a.example b.example', 'domain = example.org',
      ].join('\n'),
      'post-install': '#!/bin/sh\necho hi\n',
    });
    expect(ctx.instanceId).toBe('vm-42:a.b_c');
    expect(ctx.hostname).toBe('Web01.Example.org');
    expect(ctx.postInstall).toEqual({ script: '#!/bin/sh\necho hi\n', mode: 'per-boot', timeoutSec: 30 });
    expect(ctx.nics).toEqual([
      {
        match: { kind: 'mac', mac: '52:54:00:ab:cd:ef' }, method: 'static', mtu: 9000,
        ipv4: { address: { address: '192.168.122.17', prefix: 24 }, gateway: '192.168.122.1', broadcast: '192.168.122.255' },
        ipv6: { address: { address: '2001:db8::17', prefix: 64 }, gateway: 'fe80::1' },
      },
      { match: { kind: 'name', name: 'eth1' }, method: 'dhcp', mtu: 1400 },
      { match: { kind: 'mac', mac: '52:54:00:00:00:02' }, method: 'manual' },
    ]);
    expect(ctx.dns).toEqual({ nameservers: ['192.0.2.53', '2001:db8::53'], search: ['example.org', 'a.example', 'b.example'], domain: 'example.org' });
  });

  it('defaults method to static, accepts quoted values (ini quoting) and empty values as "not set"', () => {
    const ctx = parse({ [I]: '[context]\nhostname = "web01"\ninstance_id =\n[nic "eth0.100"]\naddress = \'10.0.0.5/8\'\n' });
    expect(ctx.hostname).toBe('web01');
    expect(ctx.instanceId).toBeUndefined();
    // A dotted interface name stays one section (ini.decode would nest it).
    expect(ctx.nics).toEqual([{ match: { kind: 'name', name: 'eth0.100' }, method: 'static', ipv4: { address: { address: '10.0.0.5', prefix: 8 } } }]);
  });

  it('post-install defaults: per-instance, 600 s', () => {
    expect(parse({ 'post-install': 'true\n' }).postInstall).toEqual({ script: 'true\n', mode: 'per-instance', timeoutSec: 600 });
  });
});

describe('common/context.ini: refused input, exact messages', () => {
  it.each([
    ['[context]\nversion = 2', 'common/context.ini: line 2: context.version = "2": format version 2 is not supported (this agent reads version 1)'],
    ['[context]\nversion = one', 'common/context.ini: line 2: context.version = "one": must be 1'],
    ['[context]\ninstance_id = a b', 'common/context.ini: line 2: context.instance_id = "a b": instance id must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit'],
    [`[context]\ninstance_id = ${'x'.repeat(129)}`, `common/context.ini: line 2: context.instance_id = "${'x'.repeat(77)}...": instance id must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit`],
    ['[context]\nhostname = wеb01', 'common/context.ini: line 2: context.hostname = "wеb01": host names are ASCII letters, digits, hyphens and dots only (no spaces, no Unicode look-alikes)'],
    ['[context]\nhostname = web_01', 'common/context.ini: line 2: context.hostname = "web_01": label "web_01" has a character other than letters, digits and hyphens'],
    ['[context]\nhostname = web01.', 'common/context.ini: line 2: context.hostname = "web01.": trailing dot is not allowed'],
    ['[context]\nhostname = -web01', 'common/context.ini: line 2: context.hostname = "-web01": label "-web01" starts or ends with a hyphen'],
    ['[context]\nhostname = 10.0.0.1', 'common/context.ini: line 2: context.hostname = "10.0.0.1": the last label is all digits (looks like an address)'],
    [`[context]\nhostname = ${'a'.repeat(64)}`, `common/context.ini: line 2: context.hostname = "${'a'.repeat(64)}": label "aaaaaaaaaaaaaaaaaaaa..." is 64 characters; the limit is 63`],
    ['[context]\nhostname = web01;reboot', 'common/context.ini: line 2: context.hostname = "web01;reboot": ";" is not allowed in a value (no inline comments: put comments on their own line)'],
    ['[context]\nhostname = web01 # primary', 'common/context.ini: line 2: context.hostname = "web01 # primary": "#" is not allowed in a value (no inline comments: put comments on their own line)'],
    ['[context]\nhostname = $(reboot)', 'common/context.ini: line 2: context.hostname = "$(reboot)": "$" is not allowed in a value (values are never expanded or unescaped)'],
    ['[context]\nhostname = "web\\u000a01"', 'common/context.ini: line 2: context.hostname = "\\"web\\\\u000a01\\"": "\\" is not allowed in a value (values are never expanded or unescaped)'],
    ['[context]\nhostname = "web01', 'common/context.ini: line 2: context.hostname = "\\"web01": unbalanced or embedded quotes'],
    ['[context]\nhostname = a\nhostname = b', 'common/context.ini: line 3: context.hostname = "b": duplicate key (first on line 2)'],
    ['[context]\nfoo = 1', 'common/context.ini: line 2: context.foo = "1": unknown key in [context] (known: version, instance_id, hostname, post_install, post_install_timeout)'],
    ['[context]\nkeys[] = 1', 'common/context.ini: line 2 = "keys[] = 1": not a [section], key = value, # comment or blank line'],
    ['[context]\na.b = 1', 'common/context.ini: line 2 = "a.b = 1": not a [section], key = value, # comment or blank line'],
    ['[context]\ngarbage', 'common/context.ini: line 2 = "garbage": not a [section], key = value, # comment or blank line'],
    ['hostname = web01', 'common/context.ini: line 1: hostname = "web01": key outside a section (start with [context])'],
    ['[network]\nfoo = 1', 'common/context.ini: line 1 = "[network]": unknown section (known: [context], [nic "MAC or name"], [dns], [identity])'],
    ['[context.sub]', 'common/context.ini: line 1 = "[context.sub]": unknown section (known: [context], [nic "MAC or name"], [dns], [identity])'],
    ['[nic eth0]\naddress = 10.0.0.5/8', 'common/context.ini: line 1 = "[nic eth0]": NIC sections are written [nic "52:54:00:12:34:56"] or [nic "eth1"] (quoted)'],
    ['[nic "01:00:5e:00:00:01"]', 'common/context.ini: line 1 = "01:00:5e:00:00:01": multicast MAC (first octet is odd): never the address of a NIC'],
    ['[nic "eth/0"]', 'common/context.ini: line 1 = "eth/0": not a MAC address nor an interface name: interface name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)'],
    ['[context]\n[context]', 'common/context.ini: line 2 = "[context]": duplicate section (first on line 1)'],
    ['[nic "52:54:00:00:00:01"]\nmethod=dhcp\n[nic "52-54-00-00-00-01"]\nmethod=dhcp', 'common/context.ini: line 3 = "[nic \\"52-54-00-00-00-01\\"]": duplicate section (first on line 1)'],
    ['[nic "eth0"]', 'common/context.ini: line 1: [nic "eth0"]: method defaults to static, which needs address = A.B.C.D/P and/or ipv6 = X::Y/P (or set method = dhcp)'],
    ['[nic "eth0"]\nmethod = static', 'common/context.ini: line 2: nic "eth0".method = "static": static needs address = A.B.C.D/P and/or ipv6 = X::Y/P'],
    ['[nic "eth0"]\nmethod = bootp', 'common/context.ini: line 2: nic "eth0".method = "bootp": must be one of static, dhcp, manual'],
    ['[nic "eth0"]\nmethod = dhcp\naddress = 10.0.0.5/8', 'common/context.ini: line 3: nic "eth0".address = "10.0.0.5/8": only valid with method = static (this NIC is dhcp)'],
    ['[nic "eth0"]\naddress = 10.0.0.5', 'common/context.ini: line 2: nic "eth0".address = "10.0.0.5": needs a prefix length (e.g. 192.168.122.17/24 or 2001:db8::17/64)'],
    ['[nic "eth0"]\naddress = 2001:db8::5/64', 'common/context.ini: line 2: nic "eth0".address = "2001:db8::5/64": an IPv6 address where IPv4 is expected'],
    ['[nic "eth0"]\naddress = 10.0.0.0/24', 'common/context.ini: line 2: nic "eth0".address = "10.0.0.0/24": is the network or broadcast address of its /24'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\ngateway = 10.0.1.1', 'common/context.ini: line 3: nic "eth0".gateway = "10.0.1.1": not inside this NIC\'s subnet 10.0.0.5/24'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\ngateway = 10.0.0.5', 'common/context.ini: line 3: nic "eth0".gateway = "10.0.0.5": is the NIC\'s own address'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\nbroadcast = 10.0.0.254', 'common/context.ini: line 3: nic "eth0".broadcast = "10.0.0.254": does not match the address (the broadcast of 10.0.0.5/24 is 10.0.0.255)'],
    ['[nic "eth0"]\nipv6 = 2001:db8::5/64\nipv6_gateway = 2001:db9::1', 'common/context.ini: line 3: nic "eth0".ipv6_gateway = "2001:db9::1": neither link-local (fe80::/10) nor inside 2001:db8::5/64'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\nipv6_gateway = fe80::1', 'common/context.ini: line 3: nic "eth0".ipv6_gateway = "fe80::1": needs an IPv6 address (ipv6 = ...) in the same section'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\nmtu = 67', 'common/context.ini: line 3: nic "eth0".mtu = "67": must be from 68 to 65535'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\nmtu = 1500.5', 'common/context.ini: line 3: nic "eth0".mtu = "1500.5": must be a whole number from 68 to 65535'],
    ['[nic "eth0"]\naddress = 10.0.0.5/24\n[nic "eth1"]\naddress = 10.0.0.5/16', 'common/context.ini: line 4: nic "eth1".address = "10.0.0.5": also the address of NIC #1'],
    ['[dns]\nnameservers = 8.8.8.8 dns.google', 'common/context.ini: line 2: dns.nameservers = "8.8.8.8 dns.google": "dns.google" is not an IPv4 or IPv6 address'],
  ])('%j', (text, message) => {
    expect(ini(`${text}\n`)).toEqual([message]);
  });

  it('reports a key of a bad section once (the section), not each key', () => {
    expect(ini('[bogus]\na = 1\nb = 2\n[context]\nhostname = ok\n')).toEqual([
      'common/context.ini: line 1 = "[bogus]": unknown section (known: [context], [nic "MAC or name"], [dns], [identity])',
    ]);
  });

  it('refuses an unknown post_install mode', () => {
    expect(problemsOf({ [I]: '[context]\npost_install = always\n', 'post-install': 'true\n' })).toEqual([
      'common/context.ini: line 2: context.post_install = "always": must be one of per-instance, per-boot, disabled',
    ]);
  });

  it('refuses post_install settings without a post-install script', () => {
    expect(ini('[context]\npost_install = per-boot\npost_install_timeout = 5\n')).toEqual([
      'common/context.ini: line 2: context.post_install: set, but there is no post-install script',
      'common/context.ini: line 3: context.post_install_timeout: set, but there is no post-install script',
    ]);
  });

  it('refuses a lone CR, which the ini package would read as a line break', () => {
    expect(ini('[context]\nhostname = web01\rinstance_id = evil\n')).toEqual([
      'common/context.ini: line 2 = "hostname = web01\\rinstance_id = evil": contains a carriage return (only CRLF line ends are tolerated)',
    ]);
  });
});

describe('DNS given in both files', () => {
  it('agrees: fine; differs: a problem naming both', () => {
    expect(problemsOf({ 'common/network': 'NAMESERVER=192.0.2.53\n', [I]: '[dns]\nnameservers = 192.0.2.53\n' })).toEqual([]);
    expect(problemsOf({ 'common/network': 'NAMESERVER=192.0.2.53\nDOMAIN=a.example\n', [I]: '[dns]\nnameservers = 192.0.2.54\ndomain = b.example\n' })).toEqual([
      'common/context.ini: line 2: dns.nameservers = "192.0.2.54": conflicts with common/network NAMESERVER="192.0.2.53" (give it in one place)',
      'common/context.ini: line 3: dns.domain = "b.example": conflicts with common/network DOMAIN="a.example" (give it in one place)',
    ]);
  });
});
