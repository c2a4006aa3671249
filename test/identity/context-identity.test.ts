/**
 * `[identity]` in common/context.ini: per-item opt-outs parsed into Context.identity, refused with
 * the usual one-line errors, and written back by the serializer (the host tools' round trip).
 */
import { describe, expect, it } from 'vitest';
import { emptyContext, parseContext, serializeContext, type Context } from '../../lib/context/index.js';
import { parse, problemsOf } from '../context/helpers.js';

describe('[identity] in context.ini', () => {
  it('no opts out; yes is the default and is not stored', () => {
    const ctx = parse({ 'common/context.ini': '[context]\nversion = 1\n\n[identity]\nnew_machine_id = no\nnew_ssh_host_keys = yes\ngrow_root = no\n' });
    expect(ctx.identity).toEqual({ new_machine_id: false, grow_root: false });
    expect(parse({ 'common/context.ini': '[identity]\nnew_random_seed = yes\n' }).identity).toBeUndefined();
    expect(parse({ 'common/network': 'NAMESERVER=10.0.0.1\n' }).identity).toBeUndefined();
  });

  it('a bad value or key is one line naming file, line, key and value', () => {
    expect(problemsOf({ 'common/context.ini': '[identity]\nnew_machine_id = false\n' })).toEqual([
      'common/context.ini: line 2: identity.new_machine_id = "false": must be yes or no',
    ]);
    expect(problemsOf({ 'common/context.ini': '[identity]\nssh_keys = no\n' })).toEqual([
      'common/context.ini: line 2: identity.ssh_keys = "no": unknown key in [identity] (known: new_machine_id, new_ssh_host_keys, new_dhcp_identity, new_random_seed, grow_root)',
    ]);
    expect(problemsOf({ 'common/context.ini': '[identity]\ngrow_root = no\n[identity]\n' })).toEqual([
      'common/context.ini: line 3 = "[identity]": duplicate section (first on line 1)',
    ]);
  });

  it('serializeContext writes the opt-outs and parseContext reads the same model back', () => {
    const ctx: Context = { ...emptyContext(), instanceId: 'clone-1', identity: { new_dhcp_identity: false, new_ssh_host_keys: false } };
    const out = serializeContext(ctx);
    expect(out.get('common/context.ini')!.toString()).toMatch(/\n\[identity\]\nnew_ssh_host_keys = no\nnew_dhcp_identity = no\n$/);
    expect(parseContext(out)).toEqual(ctx);
    // An opt-out alone is enough to need context.ini.
    const only: Context = { ...emptyContext(), identity: { grow_root: false } };
    expect(parseContext(serializeContext(only))).toEqual(only);
  });
});
