import { describe, expect, it } from 'vitest';
import { parse, problemsOf } from './helpers.js';

const N = 'common/network';
const net = (text: string) => problemsOf({ [N]: text });

describe('common/network: valid input', () => {
  it('reads the Snooze example verbatim (empty DOMAIN and SEARCH mean "not set")', () => {
    const ctx = parse({
      [N]: 'GATEWAY=192.168.122.1\nNETWORK=192.168.122.0\nBROADCAST=192.168.122.255\nNETMASK=255.255.255.0\nNAMESERVER=192.168.122.1\nDOMAIN=\nSEARCH=\n',
    });
    expect(ctx.legacySubnet).toEqual({
      network: { address: '192.168.122.0', prefix: 24 },
      gateway: '192.168.122.1',
      broadcast: '192.168.122.255',
    });
    expect(ctx.dns).toEqual({ nameservers: ['192.168.122.1'], search: [] });
    expect(ctx.nics).toEqual([]);
  });

  it.each([
    ['bare', 'NAMESERVER=10.0.0.2', ['10.0.0.2']],
    ['single quotes', "NAMESERVER='10.0.0.2 10.0.0.3'", ['10.0.0.2', '10.0.0.3']],
    ['double quotes', 'NAMESERVER="10.0.0.2 2001:DB8::53"', ['10.0.0.2', '2001:db8::53']],
    ['export prefix and trailing comment', 'export NAMESERVER="10.0.0.2"   # primary', ['10.0.0.2']],
    ['tab separated inside quotes', 'NAMESERVER="10.0.0.2\t10.0.0.3"', ['10.0.0.2', '10.0.0.3']],
    ['leading whitespace', '   NAMESERVER=10.0.0.2', ['10.0.0.2']],
    ['CRLF line ends', 'NAMESERVER=10.0.0.2\r\n# c\r\n', ['10.0.0.2']],
    ['UTF-8 BOM and a Unicode comment', '\uFEFF# réseau\nNAMESERVER=10.0.0.2', ['10.0.0.2']],
  ])('%s', (_name, line, expected) => {
    expect(parse({ [N]: `${line}\n` }).dns.nameservers).toEqual(expected);
  });

  it('puts DOMAIN first in the search list, without repeating it', () => {
    const ctx = parse({ [N]: 'DOMAIN=example.org\nSEARCH="a.example.org example.org b.example.org"\n' });
    expect(ctx.dns).toEqual({ nameservers: [], domain: 'example.org', search: ['example.org', 'a.example.org', 'b.example.org'] });
  });

  it('accepts double-quoted \\" and \\\\ escapes as literals (then judges the value)', () => {
    expect(net('DOMAIN="a\\"b"\n')).toEqual(['common/network: line 1: DOMAIN = "a\\"b": label "a"b" has a character other than letters, digits and hyphens']);
  });

  it('a file of comments and blank lines is an empty context', () => {
    expect(parse({ [N]: '# nothing\n\n   \n' }).dns).toEqual({ nameservers: [], search: [] });
  });
});

describe('common/network: invalid input, exact messages', () => {
  it.each([
    ['GATEWAY=$(reboot)', 'common/network: line 1: GATEWAY = "$(reboot)": "$" would be expanded by a shell; this format never expands values'],
    ['DOMAIN=`reboot`', 'common/network: line 1: DOMAIN = "`reboot`": "`" would be expanded by a shell; this format never expands values'],
    ['DOMAIN="$HOME"', 'common/network: line 1: DOMAIN = "\\"$HOME\\"": "$" would be expanded by a shell; this format never expands values'],
    ["DOMAIN='$HOME'", 'common/network: line 1: DOMAIN = "\'$HOME\'": "$" is not allowed (values are never expanded)'],
    ['DOMAIN=a;reboot', 'common/network: line 1: DOMAIN = "a;reboot": shell metacharacter ";" is not allowed in an unquoted value'],
    ['DOMAIN=a|b', 'common/network: line 1: DOMAIN = "a|b": shell metacharacter "|" is not allowed in an unquoted value'],
    ['DOMAIN=a\\nb', 'common/network: line 1: DOMAIN = "a\\\\nb": backslash is not allowed in an unquoted value'],
    ['DOMAIN="a\\nb"', 'common/network: line 1: DOMAIN = "\\"a\\\\nb\\"": backslash escape "\\n" is not supported (only \\" and \\\\ inside double quotes)'],
    ['DOMAIN="example.org', 'common/network: line 1: DOMAIN = "\\"example.org": unterminated double quote'],
    ["DOMAIN='example.org", 'common/network: line 1: DOMAIN = "\'example.org": unterminated single quote'],
    ['DOMAIN="a"b', 'common/network: line 1: DOMAIN = "\\"a\\"b": unexpected text after the closing quote'],
    ['NAMESERVER=1.1.1.1 8.8.8.8', 'common/network: line 1: NAMESERVER = "1.1.1.1 8.8.8.8": unquoted value contains a space; quote it: NAMESERVER="1.1.1.1 8.8.8.8"'],
    ['GATEWAY = 10.0.0.1', 'common/network: line 1: GATEWAY = "GATEWAY = 10.0.0.1": no spaces are allowed before "=" (shell syntax: KEY=VALUE)'],
    ['GATEWAY= 10.0.0.1', 'common/network: line 1: GATEWAY = " 10.0.0.1": no spaces are allowed after "=" (a shell would run the value as a command); quote the value instead'],
    ['just words', 'common/network: line 1 = "just words": expected KEY=VALUE (a shell variable name, "=", a value)'],
    ['FOO=1', 'common/network: line 1: FOO = "1": unknown key (known: GATEWAY NETWORK BROADCAST NETMASK NAMESERVER DOMAIN SEARCH)'],
    ['gateway=10.0.0.1', 'common/network: line 1: gateway = "10.0.0.1": unknown key; keys are upper case (GATEWAY)'],
    ['NAMESERVER2=10.0.0.1', 'common/network: line 1: NAMESERVER2 = "10.0.0.1": unknown key; list every name server in NAMESERVER, space separated'],
    ['NAMESERVER=010.0.0.1', 'common/network: line 1: NAMESERVER = "010.0.0.1": not an IPv4 or IPv6 address'],
    ['NAMESERVER="10.0.0.1 10.0.0.1"', 'common/network: line 1: NAMESERVER = "10.0.0.1": listed twice'],
    ['NETMASK=255.0.255.0\nNETWORK=10.0.0.0', 'common/network: line 1: NETMASK = "255.0.255.0": netmask bits are not contiguous'],
    ['NETMASK=255.255.255.255\nNETWORK=10.0.0.1', 'common/network: line 1: NETMASK = "255.255.255.255": the legacy MAC->IPv4 rule needs a prefix from /8 to /30 (this is /32)'],
    ['NETWORK=10.0.0.0', 'common/network: line 1: NETWORK = "10.0.0.0": NETWORK needs NETMASK too (together they define the legacy subnet)'],
    ['GATEWAY=10.0.0.1', 'common/network: line 1: GATEWAY = "10.0.0.1": GATEWAY needs NETWORK and NETMASK (the legacy subnet); a NIC\'s own gateway goes in common/context.ini [nic] gateway='],
    ['NETWORK=10.0.0.1\nNETMASK=255.255.255.0', 'common/network: line 1: NETWORK = "10.0.0.1": not the network address of itself/255.255.255.0 (that is 10.0.0.0)'],
    ['NETWORK=10.0.0.0\nNETMASK=255.255.255.0\nGATEWAY=10.0.1.1', 'common/network: line 3: GATEWAY = "10.0.1.1": not inside NETWORK/NETMASK 10.0.0.0/24'],
    ['NETWORK=10.0.0.0\nNETMASK=255.255.255.0\nGATEWAY=10.0.0.255', 'common/network: line 3: GATEWAY = "10.0.0.255": is the network or broadcast address of 10.0.0.0/24'],
    ['NETWORK=10.0.0.0\nNETMASK=255.255.255.0\nBROADCAST=10.0.0.254', 'common/network: line 3: BROADCAST = "10.0.0.254": does not match NETWORK/NETMASK (the broadcast of 10.0.0.0/24 is 10.0.0.255)'],
    ['DOMAIN="a b"', 'common/network: line 1: DOMAIN = "a b": DOMAIN is one domain; put more in SEARCH'],
    ['SEARCH="ok.example -bad.example"', 'common/network: line 1: SEARCH = "-bad.example": label "-bad" starts or ends with a hyphen'],
    ['NAMESERVER=10.0.0.1\nNAMESERVER=10.0.0.2', 'common/network: line 2: NAMESERVER = "10.0.0.2": duplicate key (first set on line 1); put several values in one key, space separated'],
  ])('%s', (text, message) => {
    expect(net(`${text}\n`)).toEqual([message]);
  });

  it('reports every problem of the file, in line order', () => {
    expect(net('FOO=1\nGATEWAY=$(id)\n\nNAMESERVER=x\n')).toEqual([
      'common/network: line 1: FOO = "1": unknown key (known: GATEWAY NETWORK BROADCAST NETMASK NAMESERVER DOMAIN SEARCH)',
      'common/network: line 2: GATEWAY = "$(id)": "$" would be expanded by a shell; this format never expands values',
      'common/network: line 4: NAMESERVER = "x": not an IPv4 or IPv6 address',
    ]);
  });

  it('refuses control characters, a lone CR (line smuggling), NUL and invalid UTF-8', () => {
    expect(net('DOMAIN=a\rNAMESERVER=1.2.3.4\n')).toEqual([
      'common/network: line 1 = "DOMAIN=a\\rNAMESERVER=1.2.3.4": contains a carriage return (only CRLF line ends are tolerated)',
    ]);
    expect(net('DOMAIN=a\u0000b\n')).toEqual(['common/network: line 1 = "DOMAIN=a\\u0000b": contains a NUL byte']);
    expect(net('DOMAIN=a\u001bb\n')).toEqual(['common/network: line 1 = "DOMAIN=a\\u001bb": contains control character U+001B']);
    expect(problemsOf({ [N]: Buffer.from([0x44, 0x3d, 0xff, 0x0a]) })).toEqual(['common/network: not valid UTF-8 text']);
  });

  it('refuses files over 64 KiB and very long values', () => {
    expect(net(`# ${'x'.repeat(70_000)}\n`)).toEqual(['common/network: file is 70003 bytes; the limit is 65536']);
    const long = `${'a'.repeat(63)}.`.repeat(5);
    const problems = net(`DOMAIN=${long}org\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^common\/network: line 1: DOMAIN = ".{77}\.\.\.": domain name is 323 characters; the limit is 253$/);
  });
});
