import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lchownSync, linkSync, mkdirSync, statfsSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/util/errors.js';
import { fileIdentityAsync, fileSystemAsync, lowSpace, openInput, readRegularTextAsync, rotationRoomAsync } from '../../src/util/paths.js';
import { mkfifo, tempDir } from '../helpers.js';
import { fuseHangOver, unmountFuse } from '../faults/helpers.js';

describe('fileIdentityAsync', () => {
  it('gives one file reached by two names, through a link or not, and one file not written yet, the same identity', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'real'));
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      writeFileSync(join(dir, 'real', 'a'), 'x');
      assert.equal(await fileIdentityAsync(join(dir, 'link', 'a')), await fileIdentityAsync(join(dir, 'real', 'a')));
      assert.equal(await fileIdentityAsync(join(dir, 'link', 'new')), await fileIdentityAsync(join(dir, 'real', 'new')));
      assert.equal(await fileIdentityAsync(join(dir, 'real', '..', 'real', 'new')), await fileIdentityAsync(join(dir, 'real', 'new')));
      assert.notEqual(await fileIdentityAsync(join(dir, 'real', 'a')), await fileIdentityAsync(join(dir, 'real', 'new')));
      assert.notEqual(await fileIdentityAsync(join(dir, 'nowhere', 'x')), await fileIdentityAsync(join(dir, 'nowhere', 'y')));
    } finally {
      cleanup();
    }
  });
});

describe('readRegularTextAsync', () => {
  // /proc's files are regular files whose fstat size is 0: their text stands for a
  // file that grew after fstat, and shows the buffer growing past the size given.
  it('reads a file to its end past the size fstat gave, and refuses one that grows past the limit', async () => {
    const text = await readRegularTextAsync('/proc/self/mountinfo', 1 << 20);
    assert.ok(text.length > 100 && text.endsWith('\n'), text);
    await assert.rejects(readRegularTextAsync('/proc/self/mountinfo', 50), /^Error: more than the 50-byte limit \(it grew while being read\)$/);
  });


  it('refuses a FIFO at once and a file over the limit, saying which, and reads one of the limit', async () => {
    const { dir, cleanup } = tempDir();
    try {
      mkfifo(join(dir, 'fifo'));
      await assert.rejects(readRegularTextAsync(join(dir, 'fifo'), 100), /^Error: not a regular file$/);
      writeFileSync(join(dir, 'big'), 'x'.repeat(101));
      await assert.rejects(readRegularTextAsync(join(dir, 'big'), 100), /^Error: 101 bytes, more than the 100-byte limit$/);
      writeFileSync(join(dir, 'full'), 'x'.repeat(100));
      assert.equal(await readRegularTextAsync(join(dir, 'full'), 100), 'x'.repeat(100));
      writeFileSync(join(dir, 'ok'), 'été');
      assert.equal(await readRegularTextAsync(join(dir, 'ok'), 100), 'été');
    } finally {
      cleanup();
    }
  });
});

describe('openInput', () => {
  it("refuses unread a file of two links in a directory others can write (another user's second name for a root file, where fs.protected_hardlinks is 0), and reads one in root's own", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const secret = join(dir, 'shadow');
      writeFileSync(secret, 'root:$6$S3CRETSALT$R00THASH:19000:0:99999:7:::\n', { mode: 0o600 });
      const shared = join(dir, 'history');
      mkdirSync(shared);
      chmodSync(shared, 0o1777);
      linkSync(secret, join(shared, 'node1.jsonl'));
      await assert.rejects(openInput(join(shared, 'node1.jsonl'), 'history file'), /history file .*node1\.jsonl: 2 hard links in .*history, a directory others can write or own/);
      const own = join(dir, 'own');
      mkdirSync(own, { mode: 0o755 });
      linkSync(secret, join(own, 'node1.jsonl'));
      const { handle } = await openInput(join(own, 'node1.jsonl'), 'history file');
      await handle.close();
    } finally {
      cleanup();
    }
  });

  it("refuses unread another user's file with holes, which they make at once with truncate -s 16T and whose zeros take hours to read, and reads their dense one", { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const holes = join(dir, 'node9.jsonl');
      writeFileSync(holes, '');
      truncateSync(holes, 2 ** 30);
      chownSync(holes, 65534, 65534);
      await assert.rejects(openInput(holes, 'history file'), (err: unknown) => err instanceof ConfigError && /history file .*node9\.jsonl: 1073741824 bytes held in \d+ on disk, a file with holes/.test(err.message));
      const dense = join(dir, 'node1.jsonl');
      writeFileSync(dense, `${'{}\n'.repeat(100_000)}`);
      chownSync(dense, 65534, 65534);
      const { handle } = await openInput(dense, 'history file');
      await handle.close();
    } finally {
      cleanup();
    }
  });

  it("reads root's own file with holes: on ZFS a copy read at once has no blocks counted yet, and no other user can make a file of root's", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const copy = join(dir, 'lsb.acct');
      writeFileSync(copy, '');
      truncateSync(copy, 2 ** 20);
      const { handle } = await openInput(copy, '--acct');
      await handle.close();
    } finally {
      cleanup();
    }
  });

  it("refuses unread a file of two links in a directory another user owns, though only they may write there (an LSF administrator's logdir, 0755)", { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const secret = join(dir, 'shadow');
      writeFileSync(secret, 'root:$6$S3CRETSALT$R00THASH:19000:0:99999:7:::\n', { mode: 0o600 });
      const theirs = join(dir, 'logdir');
      mkdirSync(theirs, { mode: 0o755 });
      linkSync(secret, join(theirs, 'lsb.acct'));
      chownSync(theirs, 65534, 65534);
      await assert.rejects(openInput(join(theirs, 'lsb.acct'), '--acct'), /--acct .*lsb\.acct: 2 hard links in .*logdir, a directory others can write or own/);
    } finally {
      cleanup();
    }
  });

  // A user's FUSE server answers each read as late as it likes, a byte at a time: an
  // administrator's `retrain --acct` or `simulate --acct` of a file there read for as
  // long as its owner wished, retrain's lock held all that time (hostile27).
  it("refuses unread a file on another user's FUSE mount, and opens one on root's", { skip: process.getuid?.() !== 0 || !existsSync('/dev/fuse') ? 'needs root and /dev/fuse' : false }, async () => {
    const { dir, cleanup } = tempDir();
    const [theirs, roots] = [join(dir, 'theirs'), join(dir, 'roots')];
    mkdirSync(theirs);
    mkdirSync(roots);
    const servers = [await fuseHangOver(theirs, 'file'), await fuseHangOver(roots, 'drip')];
    try {
      await assert.rejects(openInput(join(theirs, 'lsb.acct'), '--acct'), (err: unknown) => err instanceof ConfigError && /^--acct .*theirs\/lsb\.acct: on a FUSE file system that uid 1003 mounted, /.test(err.message));
      const { handle } = await openInput(join(roots, 'lsb.acct'), '--acct');
      await handle.close();
    } finally {
      await unmountFuse(servers[0], theirs);
      await unmountFuse(servers[1], roots);
      cleanup();
    }
  });

  it('follows a symbolic link of its own user to the file it names', async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'real.jsonl'), '{}\n');
      symlinkSync(join(dir, 'real.jsonl'), join(dir, 'link.jsonl'));
      const { handle, stats } = await openInput(join(dir, 'link.jsonl'), 'history file');
      await handle.close();
      assert.ok(stats.isFile());
    } finally {
      cleanup();
    }
  });
});

describe('lowSpace', () => {
  const MiB = 1024 * 1024;
  it('says a file system is nearly full when it has less free than the bytes asked of it, whatever its size', () => {
    assert.equal(lowSpace({ bsize: 4096, blocks: (1024 * MiB) / 4096, bfree: (40 * MiB) / 4096 }, 41 * MiB), '40.0 MiB free of 1.0 GiB (3.9 %)');
    assert.equal(lowSpace({ bsize: 4096, blocks: (1024 * MiB) / 4096, bfree: (40 * MiB) / 4096 }, 40 * MiB), undefined);
    const tenTiB = (10 * 1024 * 1024 * MiB) / 4096;
    assert.equal(lowSpace({ bsize: 4096, blocks: tenTiB, bfree: tenTiB * 0.005 }, 360 * MiB), undefined);
    assert.equal(lowSpace({ bsize: 4096, blocks: 2048, bfree: 256 }, 2 * MiB), '1.0 MiB free of 8.0 MiB (12.5 %)');
  });

  // The daemon writes as root, which the blocks reserved for root (bfree, not bavail) still take.
  it('counts the blocks reserved for root as free, and says nothing of a file system with no blocks (proc)', () => {
    assert.equal(lowSpace({ bsize: 4096, blocks: 1e6, bfree: 2e5 }, 700 * MiB), undefined);
    assert.equal(lowSpace({ bsize: 4096, blocks: 0, bfree: 0 }, MiB), undefined);
  });

  it('asks the nearest existing directory of a path not made yet, and tells two file systems apart', async () => {
    assert.equal(await fileSystemAsync('/proc/nonexistent/l.log').then((f) => f?.dev), statSync('/proc').dev);
    const { dir, cleanup } = tempDir();
    try {
      const fs = await fileSystemAsync(join(dir, 'not', 'yet', 'l.log'));
      assert.equal(fs?.dev, statSync(dir).dev);
      assert.equal(fs?.figures.blocks, statfsSync(dir).blocks);
      assert.notEqual(fs?.dev, statSync('/proc').dev);
    } finally {
      cleanup();
    }
  });
});

describe('fileSystemAsync and another user\'s link', () => {
  // oltest's link swapped in at a history directory still to be made below /tmp, after
  // check's trust walk passed it: its target's file system was asked (hostile22).
  it('follows a link of its own user but asks nothing through another user\'s', { skip: process.geteuid?.() !== 0 && 'needs root to give a link to another user' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o1777);
      const link = join(dir, 'hist');
      symlinkSync('/proc', link);
      assert.equal(await fileSystemAsync(join(link, 'vm.jsonl')).then((f) => f?.dev), statSync('/proc').dev);
      lchownSync(link, 1003, 1003);
      assert.equal(await fileSystemAsync(join(link, 'vm.jsonl')), undefined);
      assert.equal(await fileSystemAsync(join(link, 'not', 'yet', 'vm.jsonl')), undefined);
    } finally {
      cleanup();
    }
  });
});

describe('rotationRoomAsync', () => {
  it('is (keep + 1) × maxBytes less what the file and its rotations take now, never less than 0', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'h.jsonl');
      assert.equal(await rotationRoomAsync(path, 1000, 3), 4000);
      writeFileSync(path, Buffer.alloc(300));
      writeFileSync(`${path}.1`, Buffer.alloc(990));
      writeFileSync(`${path}.3`, Buffer.alloc(980));
      writeFileSync(`${path}.4`, Buffer.alloc(5000)); // past keep: not the appender's
      writeFileSync(`${path}x`, Buffer.alloc(5000));
      assert.equal(await rotationRoomAsync(path, 1000, 3), 4000 - 300 - 990 - 980);
      writeFileSync(`${path}.2`, Buffer.alloc(3000));
      assert.equal(await rotationRoomAsync(path, 1000, 3), 0);
    } finally {
      cleanup();
    }
  });
});
