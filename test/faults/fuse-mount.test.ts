// The fault tests' FUSE mounts (fuseHangOver) go away whatever ends the test process
// that made them: a runner killed with SIGKILL, or its whole process group killed (a
// harness's timeout), left its servers serving or gone and their mounts in place, 27 of
// them in /tmp after one loaded run. Needs root and /dev/fuse.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, sleep, tempDir, until } from '../helpers.js';
import { fuseHangOver, killFuseServer, unmountFuse } from './helpers.js';

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

// The mount helper itself ended by a signal (a `kill` by hand, a hang-up), not through the
// test: Node's default exit left the mount and its server serving.
describe('the FUSE mount helper (test/fixtures/fuse-mount.mjs)', { skip: NEED }, () => {
  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`takes its mount and server down when it gets ${signal}`, async (t) => {
      const { dir, cleanup } = tempDir('lavarank-fusemount-');
      const mount = join(dir, 'mnt');
      mkdirSync(mount, { mode: 0o755 });
      const helper = spawn(process.execPath, [fixture('fuse-mount.mjs'), mount, 'none'], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
      t.after(() => {
        helper.stdin?.end(); // where the signal did nothing: the ordinary take-down
        for (const pid of namingDir(mount)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        if (mountedAt(mount)) spawn('umount', ['-l', mount], { stdio: 'ignore' }).on('exit', cleanup);
        else cleanup();
      });
      let out = '';
      helper.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((resolve) => helper.on('exit', resolve));
      await until('the helper mounted', () => out.includes('mounted') || (helper.exitCode !== null ? false : undefined));
      assert.ok(mountedAt(mount), `nothing mounted at ${mount}`);
      helper.kill(signal);
      const gone = await until('the mount gone', () => (!mountedAt(mount) ? true : undefined), 10_000).catch(() => false);
      assert.equal(gone, true, `${mount} still mounted 10 s after the helper's ${signal}`);
      await exited;
      assert.deepEqual(namingDir(mount), [], `processes left naming ${mount}`);
    });
  }

  it('ends the server alone at a SIGUSR2 sent as soon as it says mounted, keeping the mount until its stdin ends', async (t) => {
    const { dir, cleanup } = tempDir('lavarank-fusemount-');
    const mount = join(dir, 'mnt');
    mkdirSync(mount, { mode: 0o755 });
    const helper = await fuseHangOver(mount, 'none');
    t.after(async () => {
      await unmountFuse(helper, mount);
      cleanup();
    });
    await killFuseServer(helper);
    assert.equal(helper.exitCode, null, 'the helper ended');
    assert.ok(mountedAt(mount), `${mount} unmounted before the helper's stdin ended`);
    await unmountFuse(helper, mount);
    assert.equal(mountedAt(mount), false);
  });
});
