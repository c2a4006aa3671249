/**
 * `contextgen overlay`: a qcow2 copy-on-write overlay on a base image.
 */
import { planOverlay, createOverlay, type OverlayPlan } from '../overlay.js';
import { WriteTxn, type Io } from '../io.js';

export interface OverlayOptions {
  backing: string;
  backingFormat?: string;
  out: string;
  size?: string;
  force?: boolean;
  recreateDisks?: boolean;
}

export async function runOverlay(o: OverlayOptions, io: Io): Promise<OverlayPlan> {
  const plan = await planOverlay({ backing: o.backing, backingFormat: o.backingFormat, output: o.out, size: o.size, force: !!o.force, recreate: !!o.recreateDisks }, io.cwd);
  const txn = new WriteTxn(plan.force);
  try {
    await createOverlay(plan, txn);
    await txn.commit();
  } catch (e) {
    await txn.rollback();
    throw e;
  }
  return plan;
}

export function overlaySummary(p: OverlayPlan): string {
  return `wrote ${p.output} (qcow2 overlay on ${p.backingFormat} ${p.backing}${p.sizeBytes ? `, ${p.sizeBytes} bytes` : ''})`;
}
