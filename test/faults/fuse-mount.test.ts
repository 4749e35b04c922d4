// The fault tests' FUSE mounts (fuseHangOver) go away whatever ends the test process
// that made them: a runner killed with SIGKILL, or its whole process group killed (a
// harness's timeout), left its servers serving or gone and their mounts in place, 27 of
// them in /tmp after one loaded run. Needs root and /dev/fuse.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, tempDir, until } from '../helpers.js';

const NEED = process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false;
const helpers = new URL('./helpers.js', import.meta.url).href;

// Whether a file system is mounted at dir, by mountinfo's mount point field.
const mountedAt = (dir: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

// Processes whose command line names dir: the FUSE server and whatever watches it.
const namingDir = (dir: string): number[] =>
  readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(dir);
      } catch {
        return false; // gone meanwhile
      }
    });

// A test process that mounts a server of fuseHangOver ('none': it holds every request) on
// a directory and then waits; killed as kill says, the mount and its server must go.
async function killedTest(kill: 'process' | 'group'): Promise<{ mount: string; mountedAfter: boolean; left: number[]; cleanup: () => void }> {
  const { dir, cleanup } = tempDir('lavarank-fusemount-');
  const mount = join(dir, 'mnt');
  mkdirSync(mount, { mode: 0o755 });
  const code = `const { fuseHangOver } = await import(${JSON.stringify(helpers)}); await fuseHangOver(${JSON.stringify(mount)}, 'none'); process.stdout.write('up\\n'); setInterval(() => {}, 1 << 30);`;
  const test = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], detached: kill === 'group' });
  let out = '';
  test.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise((resolve) => test.on('exit', resolve));
  await until('the test process mounted', () => out.includes('up') || (test.exitCode !== null ? false : undefined));
  assert.ok(mountedAt(mount), `nothing mounted at ${mount}`);
  if (kill === 'group') process.kill(-test.pid!, 'SIGKILL');
  else test.kill('SIGKILL');
  await exited;
  const gone = await until('the mount gone', () => (!mountedAt(mount) ? true : undefined), 10_000).catch(() => false);
  await sleep(200);
  const left = namingDir(mount);
  return { mount, mountedAfter: !gone, left, cleanup };
}

describe('the fault tests\' FUSE mounts', { skip: NEED }, () => {
  for (const kill of ['process', 'group'] as const) {
    it(`go, with their servers, when the test process${kill === 'group' ? "'s whole process group" : ''} is killed with SIGKILL`, async (t) => {
      const r = await killedTest(kill);
      t.after(() => {
        // left by a failure: taken down here, so that one failure leaves nothing behind
        for (const pid of r.left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        if (mountedAt(r.mount)) spawn('umount', ['-l', r.mount], { stdio: 'ignore' }).on('exit', r.cleanup);
        else r.cleanup();
      });
      assert.equal(r.mountedAfter, false, `${r.mount} still mounted 10 s after the test process was killed`);
      assert.deepEqual(r.left, [], `processes left naming ${r.mount}`);
    });
  }
});
