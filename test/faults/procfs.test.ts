// Kernel files that are missing, unreadable, empty, truncated, garbage, or would
// hang a reader (a FIFO in their place, with and without a writer). The loop keeps
// its schedule; a failed required collector (cpu, load, memory) repeats the last
// good rank for pessimistic_after - 1 ticks and then reports pessimistic_rank, and
// the return of good samples is logged. Run here with the real collectors and
// sampler on a synthetic /proc and /sys, and a fake clock; the same faults against
// the built daemon are in procfs-e2e.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers.js';
import { FAULTS, SyntheticHost, runOnHost, type FileFault, type HostRun } from './helpers.js';

const PESSIMISTIC = 900;

// Files a required collector reads, and the faults that leave it readable: an empty
// or writerless vmstat is a kernel without those counters (rates unavailable), and
// without sysfs the online CPUs come from /proc/stat's cpuN lines.
const REQUIRED_FILES = ['proc/stat', 'proc/loadavg', 'proc/meminfo', 'proc/vmstat', 'sys/devices/system/cpu/online'];
const READABLE: Record<string, readonly string[]> = {
  'proc/vmstat': ['empty', 'a FIFO nobody writes (a read would hang)'],
  'sys/devices/system/cpu/online': ['missing'],
};
const OPTIONAL_FILES = ['proc/diskstats', 'proc/net/dev', 'proc/pressure/cpu', 'sys/class/net/eth0/speed', 'sys/block/sda/removable'];

// Eight ticks 10 s apart on a host at 50 % CPU; the fault is in place for ticks 3 to 6.
async function runWithFault(file: string, fault: FileFault): Promise<HostRun> {
  const { dir, cleanup } = tempDir('lavarank-procfs-');
  const host = new SyntheticHost(join(dir, 'host'));
  let undo: (() => void) | undefined;
  try {
    return await runOnHost(host, {
      ticks: 8,
      pessimisticRank: PESSIMISTIC,
      afterTick: (seq) => {
        if (seq === 2) undo = host.break(file, fault);
        if (seq === 6) {
          undo?.();
          undo = undefined;
        }
      },
    });
  } finally {
    undo?.();
    cleanup();
  }
}

const ON_TIME = [1000, 11_000, 21_000, 31_000, 41_000, 51_000, 61_000, 71_000];

describe('a broken file of a required collector', () => {
  for (const file of REQUIRED_FILES) {
    for (const fault of FAULTS) {
      if (READABLE[file]?.includes(fault.name) === true) {
        it(`${file} ${fault.name}: is read as unavailable, and every report is normal and on time`, async () => {
          const run = await runWithFault(file, fault);
          assert.deepEqual(run.mono, ON_TIME);
          assert.deepEqual(run.ticks.map((t) => t.state), Array(8).fill('ok'));
        });
        continue;
      }
      it(`${file} ${fault.name}: reports stay on time, the last good rank twice, then the pessimistic rank, and recovery is logged`, async () => {
        const run = await runWithFault(file, fault);
        assert.deepEqual(run.mono, ON_TIME);
        assert.deepEqual(
          run.ticks.map((t) => t.state),
          ['ok', 'ok', 'held', 'held', 'pessimistic', 'pessimistic', 'ok', 'ok'],
          run.ticks.map((t) => t.failure ?? '-').join(' | '),
        );
        const [, good, held1, held2, p1, p2, back] = run.ticks.map((t) => t.rank);
        assert.deepEqual([held1, held2, p1, p2], [good, good, PESSIMISTIC, PESSIMISTIC]);
        assert.notEqual(back, PESSIMISTIC);
        assert.match(run.ticks[2]?.failure ?? '', new RegExp(file.split('/').pop()!.replace('.', '\\.')));
        assert.ok(run.messages.includes('sampling recovered after 4 failed ticks'), run.messages.join(' | '));
        assert.ok(run.messages.includes(`reporting the pessimistic rank ${PESSIMISTIC} until sampling recovers`));
      });
    }
  }
});

describe('a broken file of an optional collector', () => {
  for (const file of OPTIONAL_FILES) {
    for (const fault of FAULTS) {
      it(`${file} ${fault.name}: leaves that part out, and every report is normal and on time`, async () => {
        const run = await runWithFault(file, fault);
        assert.deepEqual(run.mono, ON_TIME);
        assert.deepEqual(run.ticks.map((t) => t.state), Array(8).fill('ok'));
        assert.ok(run.ticks.every((t) => t.rank !== PESSIMISTIC && Number.isFinite(t.rank)));
      });
    }
  }
});
