import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planFromOptions, warnOfBatchJobs } from '../../src/commands/calibrate.js';
import { EXIT_USAGE } from '../../src/util/cliio.js';

describe("calibrate's stages, each called alone", () => {
  it('planFromOptions gives the usage status for a --squeeze mode it does not know, and for --squeeze only with --quick', () => {
    assert.deepEqual(planFromOptions({ squeeze: 'sometimes' }), { status: EXIT_USAGE });
    assert.deepEqual(planFromOptions({ squeeze: 'only', quick: true }), { status: EXIT_USAGE });
    assert.deepEqual(planFromOptions({ summary: 'a.jsonl', finalize: 'b.jsonl' }), { status: EXIT_USAGE });
  });

  it("planFromOptions plans --quick's small run with the repeats given, and no squeeze", () => {
    const planned = planFromOptions({ quick: true, repeats: '3', squeeze: 'auto' });
    assert.ok('plan' in planned, JSON.stringify(planned));
    assert.equal(planned.plan.quick, true);
    assert.ok(planned.plan.blocks.some((b) => !b.idle));
    assert.ok(planned.plan.blocks.every((b) => b.idle || b.probes === 3));
    assert.ok(planned.plan.blocks.every((b) => (b.config.squeeze ?? 0) === 0));
  });

  it('warnOfBatchJobs gives the status of the signal that stopped the look, as a shell would, and nothing when it ends', async () => {
    assert.equal(await warnOfBatchJobs(async () => ({ stopped: 'SIGTERM' })), 128 + 15);
    assert.equal(await warnOfBatchJobs(async () => ({ jobs: [], unreadable: 0 })), undefined);
    assert.equal(await warnOfBatchJobs(async () => ({ failed: 'timed out' })), undefined);
  });
});
