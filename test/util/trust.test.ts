import assert from 'node:assert/strict';
import fs, { chmodSync, chownSync, closeSync, lchownSync, linkSync, fstatSync, mkdirSync, openSync, readFileSync, realpathSync, symlinkSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, mock, type TestContext } from 'node:test';
import { checkTrust, checkTrustAsync, chownAdvice, directoryProblems, existingDirectoryProblems, fuseMounter, nextDirectoryToMake, openTrusted, openTrustedAsync, openTrustedOnce, packageRootOfAsync, syslogGid, treeProblemsAsync, trustProblems } from '../../src/util/trust.js';
import { dirWithMode, mkfifo, tempDir, testDir, until, writeWithMode } from '../helpers.js';

const root = process.getuid?.() === 0;

describe('trustProblems', () => {
  it('accepts a file owned by root with mode 0644 in root-owned directories', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'model.json');
      writeFileSync(f, '{}', { mode: 0o644 });
      assert.deepEqual(trustProblems(f, 'model file'), []);
    } finally {
      cleanup();
    }
  });

  it('refuses a group-writable file and says how to fix it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = writeWithMode(join(dir, 'model.json'), '{}', 0o664);
      assert.deepEqual(trustProblems(f, 'model file'), [`model file ${f} has mode 0664, writable by group or others; run: chmod go-w ${f}`]);
    } finally {
      cleanup();
    }
  });

  it('refuses a file in a directory its group may write (0775, not sticky): a member could put another file in its place', () => {
    const { dir, cleanup } = tempDir();
    try {
      const shared = dirWithMode(dir, 'shared', 0o775);
      const f = join(shared, 'model.json');
      writeFileSync(f, '{}', { mode: 0o644 });
      assert.deepEqual(trustProblems(f, 'model file'), [`directory ${shared} above model file ${f} has mode 0775, writable by group or others; run: chmod go-w ${shared}`]);
    } finally {
      cleanup();
    }
  });

  it('refuses a file owned by another user', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'lavarank.yaml');
      writeFileSync(f, '', { mode: 0o644 });
      chownSync(f, 1234, 1234);
      assert.match(trustProblems(f, 'config file')[0] ?? '', /is owned by uid 1234; it must be owned by root \(chown root .*lavarank\.yaml\)$/);
    } finally {
      cleanup();
    }
  });

  it('accepts, for lavarank run as another user, root\'s files and that user\'s own, and refuses a third user\'s', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = writeWithMode(join(dir, 'model.json'), '{}', 0o644);
      assert.deepEqual(trustProblems(f, 'model file', { uid: 1003 }), []);
      chownSync(f, 1003, 1003);
      assert.deepEqual(trustProblems(f, 'model file', { uid: 1003 }), []);
      chownSync(f, 1234, 1234);
      assert.match(trustProblems(f, 'model file', { uid: 1003 })[0] ?? '', /is owned by uid 1234; it must be owned by root/);
    } finally {
      cleanup();
    }
  });

  it('refuses a path whose symbolic links loop, after 40 of them as the kernel does, rather than walk it for ever', () => {
    const { dir, cleanup } = tempDir();
    try {
      symlinkSync('loop', join(dir, 'loop'));
      assert.deepEqual(trustProblems(join(dir, 'loop'), 'model file'), [`model file ${join(dir, 'loop')} cannot be read: too many symbolic links`]);
    } finally {
      cleanup();
    }
  });

  it('judges the directory a link to ".." leads to: not a regular file', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sub = dirWithMode(dir, 'sub', 0o755);
      const up = join(sub, 'up');
      symlinkSync('..', up);
      assert.deepEqual(trustProblems(up, 'model file'), [`model file ${up} is not a regular file`]);
      assert.deepEqual(trustProblems(up, 'directory', { directory: true }), []);
    } finally {
      cleanup();
    }
  });

  it('accepts a file on a FUSE file system root mounted when lavarank runs as another user', { skip: root ? false : 'needs root to own the file' }, () => {
    // /dev/shm is a mount of its own (and /dev another), so its mounter is asked.
    const f = join('/dev/shm', `lavarank-trust-${process.pid}`);
    writeFileSync(f, '{}', { mode: 0o644 });
    try {
      assert.deepEqual(trustProblems(f, 'model file', { uid: 1003, fuseMounter: () => 0 }), []);
      assert.match(trustProblems(f, 'model file', { uid: 1003, fuseMounter: () => 1234 })[0] ?? '', /that uid 1234 mounted/);
    } finally {
      unlinkSync(f);
    }
  });

  it('says, for a file on NFS, that root_squash may be why and that root cannot chown it from this host', () => {
    assert.equal(chownAdvice('/srv/x', 'chown root /srv/x', () => 0xef53), '(chown root /srv/x)'); // ext4
    assert.match(chownAdvice('/nfs/x', 'chown root /nfs/x', () => 0x6969), /^\(chown root \/nfs\/x; \/nfs\/x is on NFS, where root_squash.*chown it on the file server, or install on a local disk\)$/);
    assert.equal(chownAdvice('/gone', 'chown root /gone', () => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }); }), '(chown root /gone)');
    assert.match(chownAdvice('/', 'chown root /'), /^\(chown root \/[);]/); // the real statfs answers
  });

  it('accepts a world-writable directory only if it is sticky, like /tmp', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o1777);
      const f = join(open, 'x');
      writeFileSync(f, '', { mode: 0o644 });
      assert.deepEqual(trustProblems(f, 'file'), []);
      chmodSync(open, 0o777);
      assert.match(trustProblems(f, 'file')[0] ?? '', /directory .*open above file .* has mode 0777/);
    } finally {
      cleanup();
    }
  });

  it('refuses a file with a second name in a sticky directory: another user may have linked root\'s file there', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      const secret = join(dir, 'shadow');
      writeFileSync(secret, 'root:x:0:0\n', { mode: 0o640 });
      const f = join(sticky, 'lavarank.yaml');
      linkSync(secret, f);
      assert.deepEqual(trustProblems(f, 'config file'), [
        `config file ${f} has 2 hard links and sits in ${sticky}, a directory others can write, so another user may have linked it there; copy it to a directory of root's`,
      ]);
      assert.ok('problems' in openTrusted(f, 'config file'));
    } finally {
      cleanup();
    }
  });

  it('refuses a file with a second name reached by a link that climbs back into a sticky directory with ..', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      const own = dirWithMode(sticky, 'lavarank', 0o755);
      const secret = join(dir, 'shadow');
      writeFileSync(secret, 'root:x:0:0\n', { mode: 0o640 });
      const f = join(sticky, 'lavarank.yaml');
      linkSync(secret, f);
      const link = join(own, 'lavarank.yaml');
      symlinkSync('../lavarank.yaml', link);
      assert.deepEqual(trustProblems(link, 'config file'), [
        `config file ${f} has 2 hard links and sits in ${sticky}, a directory others can write, so another user may have linked it there; copy it to a directory of root's`,
      ]);
    } finally {
      cleanup();
    }
  });

  it('accepts a file with a second name in a directory of root\'s reached through a sticky one and ..', () => {
    const { dir, cleanup } = tempDir();
    try {
      dirWithMode(dir, 'tmp', 0o1777);
      const f = join(dir, 'model.json');
      writeFileSync(f, '{}', { mode: 0o644 });
      linkSync(f, join(dir, 'model-copy.json'));
      const link = join(dir, 'current.json');
      symlinkSync('tmp/../model.json', link);
      assert.deepEqual(trustProblems(link, 'model file'), []);
    } finally {
      cleanup();
    }
  });

  it('accepts a file with a second name when every directory holding it is root\'s alone', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'model.json');
      writeFileSync(f, '{}', { mode: 0o644 });
      linkSync(f, join(dir, 'model-copy.json'));
      assert.deepEqual(trustProblems(f, 'model file'), []);
    } finally {
      cleanup();
    }
  });

  it('checks the directories of a symlink and of its target', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      const real = join(dir, 'real.json');
      writeFileSync(real, '{}', { mode: 0o644 });
      const link = join(open, 'model.json');
      symlinkSync(real, link);
      assert.match(trustProblems(link, 'model file').join('\n'), /directory .*open above model file/);
    } finally {
      cleanup();
    }
  });

  it('requires an execute bit for programs', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'elim.site');
      writeFileSync(f, '#!/bin/sh\n', { mode: 0o644 });
      assert.match(trustProblems(f, 'child elim', { executable: true })[0] ?? '', /is not executable/);
    } finally {
      cleanup();
    }
  });

  it('names a missing file', () => {
    assert.deepEqual(trustProblems('/nonexistent/m.json', 'model file'), ['model file /nonexistent/m.json cannot be read: ENOENT (no such file or directory)']);
  });

  it('accepts root\'s own link in a sticky directory, and resolves it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      const real = join(dir, 'real.json');
      writeFileSync(real, '{}', { mode: 0o644 });
      symlinkSync(real, join(sticky, 'model.json'));
      const verdict = checkTrust(join(sticky, 'model.json'), 'model file');
      assert.deepEqual(verdict.problems, []);
      assert.equal(verdict.real, real);
    } finally {
      cleanup();
    }
  });

  it('refuses a link another user owns, even in a sticky directory and pointing at root\'s file: its owner can swap it', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      const real = join(dir, 'real.json');
      writeFileSync(real, '{}', { mode: 0o644 });
      const link = join(sticky, 'model.json');
      symlinkSync(real, link);
      lchownSync(link, 1234, 1234);
      assert.match(trustProblems(link, 'model file').join('\n'), /symbolic link .*model\.json on the path of model file .* is owned by uid 1234, who can point it elsewhere/);
    } finally {
      cleanup();
    }
  });

  it('walks links inside the path (a linked directory) and checks the directories of the target', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      writeFileSync(join(open, 'm.json'), '{}', { mode: 0o644 });
      symlinkSync(open, join(dir, 'models'));
      assert.match(trustProblems(join(dir, 'models', 'm.json'), 'model file').join('\n'), /directory .*\/open above model file .*models\/m\.json has mode 0777/);
      assert.equal(checkTrust(join(dir, 'models', '..', 'models', 'm.json'), 'model file').real, join(open, 'm.json'));
    } finally {
      cleanup();
    }
  });

  it('openTrusted opens nothing it refuses, and reads the file it checked', () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = writeWithMode(join(dir, 'lavarank.yaml'), 'interval: 10\n', 0o666);
      const refused = openTrusted(f, 'config file');
      assert.ok('problems' in refused && /mode 0666/.test(refused.problems[0]!));
      chmodSync(f, 0o644);
      const opened = openTrusted(f, 'config file');
      assert.ok('fd' in opened);
      try {
        assert.equal(readFileSync(opened.fd, 'utf8'), 'interval: 10\n');
      } finally {
        closeSync(opened.fd);
      }
    } finally {
      cleanup();
    }
  });
});

describe('files on another user\'s FUSE mount', () => {
  // A user's FUSE server, mounted over a directory of theirs with allow_other, shows its
  // files as root's; a tmpfs mounted there stands for it, the mount told to be uid 1003's.
  it('refuses a config on a file system another user mounted, though it shows root as the owner of every file', { skip: root ? false : 'needs root to mount' }, (t) => {
    const { dir, cleanup } = tempDir();
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'lavarank-test', theirs], { encoding: 'utf8' });
    t.after(() => {
      if (mounted.status === 0) spawnSync('umount', ['-l', theirs]);
      cleanup();
    });
    assert.equal(mounted.status, 0, mounted.stderr);
    const config = writeWithMode(join(theirs, 'lavarank.yaml'), 'interval: 10\n', 0o644);
    const fuseMounter = (entry: string): number | null => (entry === theirs ? 1003 : null);
    assert.deepEqual(trustProblems(config, 'config file', { fuseMounter }), [
      `${theirs} on the path of config file ${config} is on a FUSE file system that uid 1003 mounted, whose server makes up the owners and modes it shows; it must be on a file system root mounted`,
    ]);
  });

  // Their server need never answer: the chown advice's statfs (to tell NFS) of their mount
  // point, shown as theirs, held `lavarank check` and a pool thread of the elim.
  it('stops at a mount another user made: nothing more is asked there, not even the chown advice\'s statfs of what it shows as theirs', { skip: root ? false : 'needs root to mount' }, async (t) => {
    const { dir, cleanup } = tempDir();
    const theirs = join(dir, 'theirs');
    mkdirSync(theirs);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755,uid=1003', 'lavarank-test', theirs], { encoding: 'utf8' });
    t.after(() => {
      if (mounted.status === 0) spawnSync('umount', ['-l', theirs]);
      cleanup();
    });
    assert.equal(mounted.status, 0, mounted.stderr);
    mkdirSync(join(theirs, 'history'));
    chownSync(join(theirs, 'history'), 1003, 1003);
    const asked: string[] = [];
    const { statfsSync } = fs;
    const statfs = fsPromises.statfs;
    const mocks = [
      mock.method(fsPromises, 'statfs', ((path: fs.PathLike) => (asked.push(String(path)), statfs(path))) as typeof fsPromises.statfs),
      mock.method(fs, 'statfsSync', ((path: fs.PathLike) => (asked.push(String(path)), statfsSync(path))) as typeof fs.statfsSync),
    ];
    syncBuiltinESMExports();
    t.after(() => {
      for (const m of mocks) m.mock.restore();
      syncBuiltinESMExports();
    });
    const fuseMounter = (entry: string): number | null => (entry === theirs ? 1003 : null);
    const expected = [
      `${theirs} on the path of history directory ${theirs}/history is on a FUSE file system that uid 1003 mounted, whose server makes up the owners and modes it shows; it must be on a file system root mounted`,
    ];
    const sync = checkTrust(join(theirs, 'history'), 'history directory', { directory: true, fuseMounter });
    const pool = await checkTrustAsync(join(theirs, 'history'), 'history directory', { directory: true, fuseMounter });
    assert.deepEqual([sync.problems, pool.problems], [expected, expected]);
    assert.deepEqual(asked.filter((p) => p.startsWith(theirs)), []);
  });

  it('fuseMounter tells who mounted the FUSE file system of a device from mountinfo, and nothing for a file system that is not FUSE', (t) => {
    const dir = testDir(t);
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(
      mountinfo,
      [
        '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw',
        '90 22 0:42 / /home/u\\040-\\0400:42 rw,nosuid - tmpfs tmpfs rw,size=64k',
        '115 73 0:43 / /tmp/h9/fz rw,nosuid,nodev,relatime - fuse.lavafs lavafs rw,user_id=1003,group_id=1003,allow_other',
        '116 73 0:44 / /cvmfs/sft rw,nosuid - fuse cvmfs2 ro,user_id=0,group_id=0,default_permissions,allow_other',
        '',
      ].join('\n'),
    );
    const fuse = (): number => 0x65735546;
    assert.equal(fuseMounter('/tmp/h9/fz', 43, fuse, mountinfo), 1003);
    assert.equal(fuseMounter('/cvmfs/sft', 44, fuse, mountinfo), 0);
    assert.equal(fuseMounter('/tmp/h9/gone', 45, fuse, mountinfo), undefined, 'no line for the device: unknown');
    assert.equal(fuseMounter('/home', 42, () => 0x01021994, mountinfo), null, 'tmpfs');
  });

  // A user's FUSE mount moved under 70 000 nested directories of 255 blanks made one
  // mountinfo line of 71 MB on this VM; read whole, mountinfo was past the bound and
  // root's own FUSE mount was refused.
  it("fuseMounter tells root's FUSE mount from mountinfo while a user's mount line makes the file longer than 64 MiB", (t) => {
    const dir = testDir(t);
    const mountinfo = join(dir, 'mountinfo');
    const fd = openSync(mountinfo, 'w');
    writeSync(fd, '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n116 22 0:44 / /cvmfs/sft rw,nosuid - fuse cvmfs2 ro,user_id=0,group_id=0\n120 22 0:45 / /home/oltest/');
    const blanks = Buffer.from('\\040'.repeat(256 * 1024));
    for (let i = 0; i < 65; i++) writeSync(fd, blanks); // 65 MiB
    writeSync(fd, ' rw,nosuid,nodev - fuse.t63 t63 rw,user_id=1003,group_id=1003\n');
    closeSync(fd);
    const fuse = (): number => 0x65735546;
    assert.equal(fuseMounter('/cvmfs/sft', 44, fuse, mountinfo), 0);
    assert.equal(fuseMounter('/home/oltest/m', 45, fuse, mountinfo), undefined, "the user's own line, too long to be looked at: unknown, and refused");
  });

  it("fuseMounter does not take a user's mount point that spells another device's line for that device's line", (t) => {
    const dir = testDir(t);
    const mountinfo = join(dir, 'mountinfo');
    // The kernel escapes a newline, a blank and a backslash in a path: `x\n116 22 0:44 / /c - fuse c user_id=0` as a mount point.
    const forged = '\\012116\\04022\\0400:44\\040/\\040/c\\040-\\040fuse\\040c\\040user_id=0';
    writeFileSync(
      mountinfo,
      [
        `120 22 0:45 / /home/oltest/x${forged} rw,nosuid - fuse.t63 a\\012116\\0400:44\\040 rw,user_id=1003,group_id=1003`,
        '121 22 0:44 / /home/oltest/y rw,nosuid - fuse.t63 t63 rw,user_id=1003,group_id=1003',
        '',
      ].join('\n'),
    );
    const fuse = (): number => 0x65735546;
    assert.equal(fuseMounter('/home/oltest/y', 44, fuse, mountinfo), 1003);
  });

  it('fuseMounter tells a FUSE mount by fusectl\'s list of connections where fusectl is mounted, and asks no statfs of the entry, which a server that stopped answering never answers', { skip: process.getuid?.() === 0 ? false : 'needs root to give an entry its mounter' }, (t) => {
    const dir = testDir(t);
    const mountinfo = join(dir, 'mountinfo');
    writeFileSync(mountinfo, ['22 1 252:1 / / rw - ext4 /dev/vda1 rw', '115 22 0:43 / /tmp/h9/fz rw - fuse.lavafs lavafs rw,user_id=1003,group_id=1003,allow_other', '117 22 8:17 / /mnt/win rw - fuseblk /dev/sdb1 rw,user_id=0,group_id=0,allow_other', ''].join('\n'));
    const connections = join(dir, 'connections');
    mkdirSync(connections);
    mkdirSync(join(connections, '43')); // 0:43, the mounter's as fusectl makes it
    chownSync(join(connections, '43'), 1003, 1003);
    mkdirSync(join(connections, String((8 << 20) | 17))); // 8:17, the kernel's dev_t
    const asked: string[] = [];
    const typeOf = (path: string): number => {
      if (path === connections) return 0x65735543;
      asked.push(path);
      return 0x65735546;
    };
    assert.equal(fuseMounter('/tmp/h9/fz', 43, typeOf, mountinfo, connections), 1003);
    assert.equal(fuseMounter('/mnt/win', (8 << 8) | 17, typeOf, mountinfo, connections), 0, 'fuseblk on /dev/sdb1');
    assert.equal(fuseMounter('/nfs/lsf', 52, typeOf, mountinfo, connections), null, 'not listed: not FUSE');
    assert.deepEqual(asked, [], 'no statfs of an entry');
  });

  // A fusectl entry that cannot be looked at (here: the list is a file) is not proof that
  // no FUSE mount is there: the error reaches checkTrust, which refuses the entry.
  it('fuseMounter gives up on a fusectl list that cannot be read for a reason other than a missing entry, rather than call the entry not FUSE', (t) => {
    const dir = testDir(t);
    const connections = join(dir, 'connections');
    writeFileSync(connections, '');
    const typeOf = (path: string): number => (path === connections ? 0x65735543 : 0x65735546);
    assert.throws(() => fuseMounter('/tmp/h9/fz', 43, typeOf, join(dir, 'mountinfo'), connections), { code: 'ENOTDIR' });
  });

  // oltest's 65 MiB mountinfo line came before cvmfs's, mounted later by autofs: no
  // line for its device within the bound, and root's own config there was refused.
  it("fuseMounter takes the mounter from fusectl's entry, so root's FUSE mount listed after a user's 65 MiB of mountinfo is root's, and theirs theirs", { skip: process.getuid?.() === 0 ? false : 'needs root to give an entry its mounter' }, (t) => {
    const dir = testDir(t);
    const mountinfo = join(dir, 'mountinfo');
    const fd = openSync(mountinfo, 'w');
    writeSync(fd, '22 1 252:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n120 22 0:45 / /home/oltest/');
    const blanks = Buffer.from('\\040'.repeat(256 * 1024));
    for (let i = 0; i < 65; i++) writeSync(fd, blanks);
    writeSync(fd, ' rw,nosuid,nodev - fuse.t63 t63 rw,user_id=1003,group_id=1003\n121 22 0:44 / /cvmfs/sft rw,nosuid - fuse cvmfs2 ro,user_id=0,group_id=0\n');
    closeSync(fd);
    const connections = join(dir, 'connections');
    mkdirSync(connections);
    mkdirSync(join(connections, '44'));
    mkdirSync(join(connections, '45'));
    chownSync(join(connections, '45'), 1003, 1003);
    const typeOf = (path: string): number => (path === connections ? 0x65735543 : 0x65735546);
    assert.equal(fuseMounter('/cvmfs/sft', 44, typeOf, mountinfo, connections), 0);
    assert.equal(fuseMounter('/home/oltest/m', 45, typeOf, mountinfo, connections), 1003);
  });
});

describe('openTrusted against a file being replaced', () => {
  it('checks and opens again a file replaced between its check and its open, as root\'s atomic renames replace a model', async (t) => {
    const dir = testDir(t);
    const path = join(dir, 'rank.json');
    writeWithMode(path, '{}', 0o644);
    // Another process replaces the file by rename as fast as it can, as `lavarank retrain` does once.
    // It says 'swapping' after its first rename (a pipe write, synchronous in Node).
    const swapper = spawn(process.execPath, ['-e', `const fs = require('fs'); const p = ${JSON.stringify(path)}; for (let n = 0; ; n++) { fs.writeFileSync(p + '.new', '{}', { mode: 0o644 }); fs.renameSync(p + '.new', p); if (n === 0) process.stdout.write('swapping\\n'); }`], { stdio: ['ignore', 'pipe', 'ignore'] });
    let said = '';
    swapper.stdout.on('data', (d: Buffer) => (said += d.toString()));
    try {
      // The loop below is synchronous and short: it must not start before the swapper
      // does (a fixed 200 ms was less than Node takes to start on a loaded host). Its
      // word after the first rename shows it running (an inode number would not: a
      // replaced file's number is soon reused).
      await until('the swapper replacing the file', () => (said.includes('swapping\n') ? true : undefined), 20_000);
      let once = 0; // single attempts that met a replacement
      let refused = 0; // openTrusted calls refused for one
      for (let i = 0; i < 20_000 && once < 100; i++) {
        const a = openTrustedOnce(path, 'model file');
        if ('replaced' in a) once++;
        else if ('fd' in a) closeSync(a.fd);
        else assert.fail(a.problems.join('; '));
        const b = openTrusted(path, 'model file');
        if ('fd' in b) closeSync(b.fd);
        else if (b.problems.some((why) => why.includes('was replaced while it was being checked'))) refused++;
        else assert.fail(b.problems.join('; '));
      }
      assert.ok(once > 0, 'the renames never fell between a check and its open: nothing was tested');
      // Three attempts each: a refusal needs three races in a row, against one for a single
      // attempt, so refusals are about p² of the single attempts' replacements, p the chance
      // that one attempt meets a rename. Under the whole suite's load p reached 0.28 (8 refusals
      // for 100); a bound of a quarter holds up to p = 0.5, and without the retries refusals are
      // as many as those replacements. The retries' count is held exactly by the two tests below.
      assert.ok(refused * 4 <= once, `${refused} refusals for ${once} single attempts that met a replacement`);
    } finally {
      swapper.kill('SIGKILL');
    }
  });

  // Replaces path by a rename just before each of the first `times` opens of it, as root's
  // `lavarank retrain` would between openTrusted's check and its open.
  function replaceBeforeOpens(t: TestContext, path: string, times: number): { opens: () => number; fds: number[] } {
    const realOpen = fs.openSync;
    const fds: number[] = [];
    let opens = 0;
    t.mock.method(fs, 'openSync', (p: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode) => {
      if (String(p) === path) {
        opens++;
        if (opens <= times) {
          writeFileSync(`${path}.new`, `{"version":${opens}}`, { mode: 0o644 });
          fs.renameSync(`${path}.new`, path);
        }
        const fd = realOpen(p, flags, mode);
        fds.push(fd);
        return fd;
      }
      return realOpen(p, flags, mode);
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    return { opens: () => opens, fds };
  }

  it('opens the newest file when it was replaced before each of the first two opens: the third check and open agree', (t) => {
    const dir = testDir(t);
    const path = realpathSync(writeWithMode(join(dir, 'rank.json'), '{}', 0o644));
    const swaps = replaceBeforeOpens(t, path, 2);
    const opened = openTrusted(path, 'model file');
    assert.ok('fd' in opened, 'problems' in opened ? opened.problems.join('; ') : '');
    try {
      assert.equal(readFileSync(opened.fd, 'utf8'), '{"version":2}');
    } finally {
      closeSync(opened.fd);
    }
    assert.equal(swaps.opens(), 3);
  });

  it('refuses, naming the replacement, a file replaced before each of its three opens, and keeps no descriptor', async (t) => {
    const dir = testDir(t);
    const path = realpathSync(writeWithMode(join(dir, 'rank.json'), '{}', 0o644));
    const swaps = replaceBeforeOpens(t, path, 6);
    assert.deepEqual(openTrusted(path, 'model file'), { problems: [`model file ${path} was replaced while it was being checked`] });
    assert.equal(swaps.opens(), 3);
    for (const fd of swaps.fds) assert.throws(() => fstatSync(fd), { code: 'EBADF' }, `descriptor ${fd} of a replaced file left open`);
    assert.deepEqual(await openTrustedAsync(path, 'model file'), { problems: [`model file ${path} was replaced while it was being checked`] });
    assert.equal(swaps.opens(), 6);
  });
});

describe('openTrusted against a link swapped in after the check', () => {
  it('opens the checked name without following a link put there since: what the link points at (a FIFO, a device) is never opened', (t) => {
    const dir = testDir(t);
    const path = writeWithMode(join(dir, 'lavarank.yaml'), 'interval: 10\n', 0o644);
    const fifo = join(dir, 'fifo');
    mkfifo(fifo);
    const fifosOpened: string[] = [];
    const realOpen = fs.openSync;
    t.mock.method(fs, 'openSync', (p: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode) => {
      if (String(p) === path) {
        // Between the check and the open, as a user who can write the directory would.
        unlinkSync(path);
        symlinkSync(fifo, path);
      }
      const fd = realOpen(p, flags, mode);
      if (fs.fstatSync(fd).isFIFO()) fifosOpened.push(String(p));
      return fd;
    });
    syncBuiltinESMExports();
    t.after(() => {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    });
    const opened = openTrustedOnce(path, 'config file');
    if ('fd' in opened) closeSync(opened.fd);
    assert.ok('problems' in opened, 'the swapped file was taken');
    assert.deepEqual(fifosOpened, []);
  });
});

describe('directoryProblems', () => {
  it('accepts a root-owned 0755 directory and a sticky one such as /tmp', () => {
    const { dir, cleanup } = tempDir();
    try {
      assert.deepEqual(directoryProblems(dirWithMode(dir, 'log', 0o755), 'log directory'), []);
      assert.deepEqual(directoryProblems(dirWithMode(dir, 'tmp', 0o1777), 'log directory'), []);
    } finally {
      cleanup();
    }
  });

  it('accepts a directory only root and the syslog group may write, as Ubuntu\'s /var/log (root:syslog 0775), and refuses one another group may write', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const varLog = dirWithMode(dir, 'log', 0o775);
      chownSync(varLog, 0, 104);
      assert.deepEqual(directoryProblems(join(varLog, 'lavarank'), 'log directory', { logGroup: 104 }), []);
      assert.deepEqual(directoryProblems(varLog, 'log directory', { logGroup: 104 }), [], 'named as the log directory itself');
      // users (100) is every user's group on SUSE: a low gid is not a system group.
      chownSync(varLog, 0, 100);
      assert.match(directoryProblems(join(varLog, 'lavarank'), 'log directory', { logGroup: 104 })[0] ?? '', /directory .*log above log directory .*log\/lavarank has mode 0775, writable by group or others/);
      assert.equal(directoryProblems(varLog, 'log directory', { logGroup: undefined }).length, 1, 'no syslog group: no exception');
      chownSync(varLog, 0, 104);
      chmodSync(varLog, 0o777);
      assert.equal(directoryProblems(varLog, 'log directory', { logGroup: 104 }).length, 1, 'writable by others is refused whatever the group');
    } finally {
      cleanup();
    }
  });

  it('syslogGid finds the syslog group in a group file, and nothing where there is none', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'group');
      writeFileSync(file, 'root:x:0:\nusers:x:100:\nsyslog:x:110:\nadm:x:4:syslog,alice\n');
      assert.equal(syslogGid(file), 110);
      writeFileSync(file, 'root:x:0:\nrsyslog:x:120:\nsyslog:x:110:\n');
      assert.equal(syslogGid(file), 110, 'a group whose name only ends in syslog is not the syslog group');
      writeFileSync(file, 'root:x:0:\nadm:x:4:syslog\n');
      assert.equal(syslogGid(file), undefined);
      assert.equal(syslogGid(join(dir, 'missing')), undefined);
    } finally {
      cleanup();
    }
  });

  it('refuses a directory others can write that is not sticky, and says how to fix it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      assert.deepEqual(directoryProblems(open, 'history directory'), [`history directory ${open} has mode 0777, writable by group or others; run: chmod go-w ${open}`]);
    } finally {
      cleanup();
    }
  });

  it('checks the directories on the way when the directory is still to be created', () => {
    const { dir, cleanup } = tempDir();
    try {
      const open = dirWithMode(dir, 'open', 0o777);
      const [problem, ...rest] = directoryProblems(join(open, 'a', 'b'), 'history directory');
      assert.equal(rest.length, 0);
      assert.match(problem ?? '', new RegExp(`directory ${open} above history directory ${join(open, 'a', 'b')} has mode 0777.*\\(${join(open, 'a', 'b')} is to be created there\\)`));
      assert.deepEqual(directoryProblems(join(dirWithMode(dir, 'safe', 0o755), 'a', 'b'), 'history directory'), []);
    } finally {
      cleanup();
    }
  });

  it('refuses a directory still to be made through another user\'s link that leads nowhere yet, in a sticky directory such as /tmp', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      const link = join(sticky, 'x');
      symlinkSync(join(dir, 'nowhere'), link); // pointed at a directory of root's once root makes or opens there
      lchownSync(link, 1234, 1234);
      assert.match(directoryProblems(join(link, 'history'), 'history directory').join('; '), /symbolic link .*tmp\/x on the path of history directory .* is owned by uid 1234/);
      assert.equal(existingDirectoryProblems(link, 'metrics directory').length, 1);
    } finally {
      cleanup();
    }
  });

  it('refuses a directory still to be made through root\'s link into another user\'s directory, where they would make it a link to any directory', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const theirs = dirWithMode(dir, 'theirs', 0o755);
      chownSync(theirs, 1234, 1234);
      const lib = dirWithMode(dir, 'lib', 0o755);
      symlinkSync(join(theirs, 'metrics'), join(lib, 'metrics')); // an NFS directory not mounted yet, a target removed
      assert.match(existingDirectoryProblems(join(lib, 'metrics'), 'metrics directory').join('; '), /directory .*theirs above metrics directory .* is owned by uid 1234/);
      assert.match(directoryProblems(join(lib, 'metrics', 'history'), 'history directory').join('; '), /directory .*theirs above history directory .* is owned by uid 1234/);
    } finally {
      cleanup();
    }
  });

  it('nextDirectoryToMake names the real directory to make next, and refuses to make the target of a link to nothing, as mkdir -p does', () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const lib = dirWithMode(dir, 'lib', 0o755);
      const data = dirWithMode(dir, 'data', 0o755);
      symlinkSync(data, join(lib, 'lr'));
      assert.equal(nextDirectoryToMake(join(lib, 'lr', 'history', 'a'), 'history directory'), join(data, 'history'));
      assert.equal(nextDirectoryToMake(data, 'history directory'), undefined);
      symlinkSync(join(data, 'unmounted', 'history'), join(lib, 'nfs'));
      assert.throws(() => nextDirectoryToMake(join(lib, 'nfs', 'a'), 'history directory'), { code: 'ENOENT', message: /leads through a symbolic link to .*data\/unmounted, which does not exist/ });
    } finally {
      cleanup();
    }
  });

  it('refuses a regular file where the directory should be, rather than checking the directory above it', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = writeWithMode(join(dir, 'history'), '', 0o644);
      assert.deepEqual(directoryProblems(file, 'history directory'), [`history directory ${file} is not a directory`]);
    } finally {
      cleanup();
    }
  });

  it('existingDirectoryProblems: refuses a directory not made yet where others could make it first (below a sticky one), not one only root can make', () => {
    const { dir, cleanup } = tempDir();
    try {
      const sticky = dirWithMode(dir, 'tmp', 0o1777);
      assert.deepEqual(directoryProblems(join(sticky, 'x'), 'metrics directory'), [], 'directoryProblems judges it by /tmp');
      assert.deepEqual(existingDirectoryProblems(join(sticky, 'x'), 'metrics directory'), [
        `metrics directory ${join(sticky, 'x')} does not exist, and ${sticky}, where it would be made, can be written by others: they could make ${join(sticky, 'x')} a link to any directory before root writes there; create it first (mkdir -m 0755 ${join(sticky, 'x')})`,
      ]);
      assert.equal(existingDirectoryProblems(join(sticky, 'x', 'y'), 'metrics directory').length, 1);
      assert.deepEqual(existingDirectoryProblems(dirWithMode(sticky, 'made', 0o755), 'metrics directory'), [], 'made already, by root');
      assert.deepEqual(existingDirectoryProblems(join(dirWithMode(dir, 'safe', 0o755), 'a', 'b'), 'metrics directory'), [], 'only root can make it');
    } finally {
      cleanup();
    }
  });

  it('refuses a directory another user owns, and a root directory reached through their link', { skip: root ? false : 'needs root to chown' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      const theirs = join(dir, 'theirs');
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 1234, 1234);
      assert.match(directoryProblems(theirs, 'log directory')[0] ?? '', /log directory .*theirs is owned by uid 1234; it must be owned by root/);
      const rootDir = dirWithMode(dir, 'root', 0o755);
      const link = join(theirs, 'history');
      symlinkSync(rootDir, link);
      lchownSync(link, 1234, 1234);
      const problems = directoryProblems(link, 'history directory');
      assert.ok(problems.some((p) => /directory .*theirs above history directory .* is owned by uid 1234/.test(p)), problems.join('\n'));
      assert.ok(problems.some((p) => /symbolic link .*theirs\/history .* is owned by uid 1234/.test(p)), problems.join('\n'));
    } finally {
      cleanup();
    }
  });
});

// An installed package as npm and the build leave it: dist/src/cli.js, node_modules
// with a module and a .bin link into it, and a .git nothing runs from.
function packageTree(dir: string): string {
  const pkg = join(dir, 'lavarank');
  for (const d of ['dist/src', 'node_modules/pino/lib', 'node_modules/.bin', '.git/objects']) mkdirSync(join(pkg, d), { recursive: true, mode: 0o755 });
  writeFileSync(join(pkg, 'package.json'), '{"name":"lavarank"}\n', { mode: 0o644 });
  writeFileSync(join(pkg, 'dist/src/cli.js'), '', { mode: 0o644 });
  writeFileSync(join(pkg, 'node_modules/pino/lib/tools.js'), '', { mode: 0o644 });
  symlinkSync('../pino/lib/tools.js', join(pkg, 'node_modules/.bin/pino'));
  return pkg;
}

describe('treeProblemsAsync', () => {
  it('accepts a tree of root\'s files and directories, links inside it included, and finds its root from the program', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      assert.equal(await packageRootOfAsync(join(pkg, 'dist/src/cli.js')), pkg);
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), []);
    } finally {
      cleanup();
    }
  });

  it('names a group-writable module deep in node_modules, and a writable directory, with the fix', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      chmodSync(join(pkg, 'node_modules/pino/lib/tools.js'), 0o664);
      chmodSync(join(pkg, 'dist/src'), 0o777);
      const problems = await treeProblemsAsync(pkg, 'lavarank installation');
      assert.deepEqual(problems.sort(), [
        `lavarank installation ${join(pkg, 'dist/src')} has mode 0777, writable by group or others; run: chmod -R go-w ${pkg}`,
        `lavarank installation ${join(pkg, 'node_modules/pino/lib/tools.js')} has mode 0664, writable by group or others; run: chmod -R go-w ${pkg}`,
      ]);
    } finally {
      cleanup();
    }
  });

  it('names a file another user owns', { skip: root ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      chownSync(join(pkg, 'node_modules/pino/lib/tools.js'), 1234, 1234);
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), [
        `lavarank installation ${join(pkg, 'node_modules/pino/lib/tools.js')} is owned by uid 1234; it must be owned by root (chown -R root ${pkg})`,
      ]);
    } finally {
      cleanup();
    }
  });

  it('checks the target of a link that leads out of the tree, and skips .git', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      const theirs = writeWithMode(join(dir, 'theirs.js'), '', 0o666);
      symlinkSync(theirs, join(pkg, 'node_modules/pino/index.js'));
      writeWithMode(join(pkg, '.git/objects/pack'), '', 0o666);
      const problems = await treeProblemsAsync(pkg, 'lavarank installation');
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, new RegExp(`^lavarank installation \\(a link out of ${pkg}\\) .*${theirs} has mode 0666`));
    } finally {
      cleanup();
    }
  });

  it('walks a directory a link leads to out of the tree: Node loads the modules below it', { skip: root ? false : 'needs root to chown' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      const shared = join(dir, 'shared/yaml');
      mkdirSync(join(shared, 'dist'), { recursive: true, mode: 0o755 });
      writeFileSync(join(shared, 'dist/index.js'), '', { mode: 0o644 });
      chownSync(join(shared, 'dist/index.js'), 1234, 1234);
      symlinkSync(shared, join(pkg, 'node_modules/yaml'));
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), [
        `lavarank installation ${join(shared, 'dist/index.js')} is owned by uid 1234; it must be owned by root (chown -R root ${shared})`,
      ]);
    } finally {
      cleanup();
    }
  });

  it('checks a link to a sibling directory whose name begins with the tree\'s: /opt/lavarank-old is out of /opt/lavarank', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      const sibling = dirWithMode(dir, 'lavarank-old', 0o777);
      symlinkSync(sibling, join(pkg, 'node_modules/old'));
      const problems = await treeProblemsAsync(pkg, 'lavarank installation');
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0]!, new RegExp(`^lavarank installation \\(a link out of ${pkg}\\) ${sibling} has mode 0777`));
    } finally {
      cleanup();
    }
  });

  it('skips .git only at the top of the tree: a .git deeper down is walked', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      mkdirSync(join(pkg, 'node_modules/pino/.git'), { mode: 0o755 });
      const hook = writeWithMode(join(pkg, 'node_modules/pino/.git/index.js'), '', 0o666);
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), [`lavarank installation ${hook} has mode 0666, writable by group or others; run: chmod -R go-w ${pkg}`]);
    } finally {
      cleanup();
    }
  });

  it('names a link out of the tree to nothing yet: whoever can make its target chooses what Node loads', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      symlinkSync(join(dir, 'not-yet/index.js'), join(pkg, 'node_modules/pino/index.js'));
      symlinkSync('../missing.js', join(pkg, 'node_modules/pino/inside.js')); // into the tree: root's to make
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), [
        `lavarank installation ${join(pkg, 'node_modules/pino/index.js')} is a link to ${join(dir, 'not-yet/index.js')}, which does not exist: whoever can create it there runs their code as root; remove the link`,
      ]);
    } finally {
      cleanup();
    }
  });

  it('finds the package of a program named through a link, as Node resolves its main module (an npm -g bin link)', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      mkdirSync(join(dir, 'bin'), { mode: 0o755 });
      symlinkSync(join(pkg, 'dist/src/cli.js'), join(dir, 'bin/lavarank'));
      assert.equal(await packageRootOfAsync(join(dir, 'bin/lavarank')), pkg);
    } finally {
      cleanup();
    }
  });

  it('stops after maxEntries entries and says the rest was not checked', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      for (let i = 0; i < 20; i++) writeFileSync(join(pkg, 'dist/src', `m${i}.js`), '', { mode: 0o644 });
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation', { maxEntries: 10 }), [`lavarank installation ${pkg} has more than 10 entries; the rest were not checked`]);
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation', { maxEntries: 100 }), []);
      // The tree has 30 entries besides .git: as many as maxEntries are all checked.
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation', { maxEntries: 30 }), []);
      assert.equal((await treeProblemsAsync(pkg, 'lavarank installation', { maxEntries: 29 })).length, 1);
    } finally {
      cleanup();
    }
  });

  it('lists at most `limit` problems and counts the rest', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      for (let i = 0; i < 5; i++) writeWithMode(join(pkg, 'dist/src', `m${i}.js`), '', 0o646);
      const problems = await treeProblemsAsync(pkg, 'lavarank installation', { limit: 3 });
      assert.equal(problems.length, 4);
      assert.equal(problems[3], 'and 2 more');
    } finally {
      cleanup();
    }
  });

  it('refuses the tree when its root or a directory above it is not root\'s alone, without walking it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      chmodSync(pkg, 0o775);
      writeWithMode(join(pkg, 'dist/src/x.js'), '', 0o666);
      assert.deepEqual(await treeProblemsAsync(pkg, 'lavarank installation'), [`lavarank installation ${pkg} has mode 0775, writable by group or others; run: chmod go-w ${pkg}`]);
    } finally {
      cleanup();
    }
  });

  it("once the signal is aborted (the daemon stopping), rejects with the abort's error at its next question instead of listing problems", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const pkg = packageTree(dir);
      writeWithMode(join(pkg, 'dist/src/x.js'), '', 0o666);
      const controller = new AbortController();
      const walk = treeProblemsAsync(pkg, 'lavarank installation', {}, controller.signal);
      controller.abort(); // while its first question is in the pool
      await assert.rejects(walk, { name: 'AbortError' });
    } finally {
      cleanup();
    }
  });
});

describe('checkTrustAsync', () => {
  it("gives checkTrust's verdict, its questions asked in libuv's pool: a root file, another user's file and link, a group-writable directory, a name missing below a sticky directory, a link to nothing", { skip: root ? false : 'needs root to give files away' }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const mine = join(dir, 'model.json');
      writeFileSync(mine, '{}', { mode: 0o644 });
      const theirs = join(dir, 'theirs.json');
      writeFileSync(theirs, '{}', { mode: 0o644 });
      chownSync(theirs, 1234, 1234);
      const link = join(dir, 'link');
      symlinkSync(mine, link);
      lchownSync(link, 1234, 1234);
      const shared = dirWithMode(dir, 'shared', 0o775);
      const sticky = dirWithMode(dir, 'sticky', 0o1777);
      const dangling = join(sticky, 'to-nothing');
      symlinkSync(join(dir, 'nothing'), dangling);
      const cases: Array<[string, Parameters<typeof checkTrust>[2]]> = [
        [mine, {}],
        [theirs, {}],
        [link, {}],
        [join(shared, 'x.json'), {}],
        [join(sticky, 'history', 'deeper'), { directory: true, sticky: true }],
        [dangling, { directory: true, sticky: true }],
        [join(dir, '..', '.', 'model.json'), {}],
      ];
      for (const [path, options] of cases) assert.deepEqual(await checkTrustAsync(path, 'file', options), checkTrust(path, 'file', options), path);
      assert.equal(cases.length, 7);
    } finally {
      cleanup();
    }
  });
});

describe('checkTrustAsync where fusectl is not mounted', () => {
  // /proc, another device than /, taken for FUSE, and fusectl for not mounted (sysfs), while
  // fn runs; mountinfo is read 16 bytes at a time, so that even the first line of this
  // host's takes several reads, and onRead is told of each.
  async function withProcOnFuse(onRead: () => void, fn: () => Promise<void>): Promise<void> {
    const typeOf = (path: unknown): number | undefined => (path === '/proc' ? 0x65735546 : path === '/sys/fs/fuse/connections' ? 0x62656572 : undefined);
    const { statfsSync, readSync, read } = fs;
    const statfs = fsPromises.statfs;
    const mocks = [
      mock.method(fsPromises, 'statfs', (async (path: fs.PathLike) => ({ ...(await statfs(path)), type: typeOf(path) ?? (await statfs(path)).type })) as typeof fsPromises.statfs),
      mock.method(fs, 'statfsSync', ((path: fs.PathLike) => ({ ...statfsSync(path), type: typeOf(path) ?? statfsSync(path).type })) as typeof fs.statfsSync),
      mock.method(fs, 'readSync', ((fd: number, buffer: Buffer, offset: number, length: number, position: null) => {
        onRead();
        return readSync(fd, buffer, offset, Math.min(16, length), position);
      }) as typeof fs.readSync),
      mock.method(fs, 'read', ((fd: number, buffer: Buffer, offset: number, length: number, position: null, callback: (err: NodeJS.ErrnoException | null, n: number, buffer: Buffer) => void) => {
        onRead();
        read(fd, buffer, offset, Math.min(16, length), position, callback);
      }) as typeof fs.read),
    ];
    syncBuiltinESMExports();
    try {
      await fn();
    } finally {
      for (const m of mocks) m.mock.restore();
      syncBuiltinESMExports();
    }
  }

  // A walk entering a user's FUSE mount read mountinfo up to its line on the event loop:
  // 273-412 ms with a user's 1 000 mount lines of 62 KB before it, no report meanwhile.
  it("reads mountinfo for the FUSE rule in libuv's pool, the event loop turning between its reads, and gives checkTrust's verdict", async () => {
    let turns = 0;
    const readAt: number[] = []; // the turn of the loop at each read
    let done = false;
    const turn = (): void => {
      turns++;
      if (!done) setImmediate(turn);
    };
    setImmediate(turn);
    try {
      await withProcOnFuse(
        () => readAt.push(turns),
        async () => {
          const verdict = await checkTrustAsync('/proc', 'directory', { directory: true });
          done = true;
          assert.ok(readAt.length >= 2, `${readAt.length} reads`);
          assert.ok(readAt.at(-1)! > readAt[0]!, `every read of mountinfo at turn ${readAt[0]}`);
          const sync = checkTrust('/proc', 'directory', { directory: true });
          assert.deepEqual([verdict.real, verdict.problems], [sync.real, sync.problems]); // /proc's nlink comes and goes with processes
          assert.match(verdict.problems.join('\n'), /\/proc on the path of directory \/proc is on a FUSE file system whose mounter cannot be told/);
        },
      );
    } finally {
      done = true;
    }
  });

  it('closes mountinfo when a stop ends the walk between two of its reads', async () => {
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
    const stop = new AbortController();
    const before = openFds();
    await withProcOnFuse(
      () => stop.abort(),
      async () => {
        await assert.rejects(checkTrustAsync('/proc', 'directory', { directory: true }, stop.signal), { name: 'AbortError' });
      },
    );
    assert.equal(openFds(), before);
  });
});

describe('checkTrustAsync with an abort signal', () => {
  it("once the signal is aborted, rejects with the abort's error at its next question instead of giving a verdict", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const controller = new AbortController();
      const walk = checkTrustAsync(join(dir, 'a', 'b'), 'file', {}, controller.signal);
      controller.abort(); // while its first question (lstat of /) is in the pool
      await assert.rejects(walk, { name: 'AbortError' });
      await assert.rejects(checkTrustAsync(dir, 'file', { directory: true }, controller.signal), { name: 'AbortError' });
    } finally {
      cleanup();
    }
  });
});

describe('checkTrust of a path that does not exist', () => {
  it('says in which directory the name would be made and whether others may write there, through a link to nothing too', { skip: root ? false : 'the directories must be root\'s' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const shared = dirWithMode(dir, 'tmp', 0o1777);
      const own = dirWithMode(dir, 'own', 0o755);
      assert.deepEqual(checkTrust(join(shared, 'later'), 'x').missing, { dir: shared, name: 'later', linked: false, shared: true, problems: [] });
      assert.deepEqual(checkTrust(join(own, 'later'), 'x').missing, { dir: own, name: 'later', linked: false, shared: false, problems: [] });
      symlinkSync(join(shared, 'later'), join(own, 'link'));
      assert.deepEqual(checkTrust(join(own, 'link'), 'x').missing, { dir: shared, name: 'later', linked: true, shared: true, problems: [] });
      assert.equal(checkTrust(join(own, 'link'), 'x').problems.length, 1); // still refused as before: cannot be read
      assert.equal(checkTrust(own, 'x', { directory: true }).missing, undefined);
    } finally {
      cleanup();
    }
  });

  it('accepts a character device by its owner and path with device, and refuses it without', () => {
    assert.deepEqual(trustProblems('/dev/null', 'x', { device: true }), []);
    assert.match(trustProblems('/dev/null', 'x').join('; '), /is not a regular file/);
  });

  it('refuses /dev/null as a config for being no regular file, without advice to chmod it, which would break the host', () => {
    assert.deepEqual(trustProblems('/dev/null', 'config file'), ['config file /dev/null is not a regular file']);
  });
});

describe('checkTrust of a block device', () => {
  it('accepts it with device, as a character device: [smartctl, -A, /dev/sda] names one', { skip: root ? false : 'mknod needs root' }, (t) => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const disk = join(dir, 'sda');
      const made = spawnSync('mknod', ['-m', '0660', disk, 'b', '7', '0']);
      if (made.status !== 0) {
        t.skip('no CAP_MKNOD here'); // reported as skipped, not passed
        return;
      }
      assert.deepEqual(trustProblems(disk, 'x', { device: true }), []);
      assert.match(trustProblems(disk, 'x').join('; '), /is not a regular file/);
    } finally {
      cleanup();
    }
  });
});

describe('advice for a sticky directory others write', () => {
  it('never says to take the write bit from /tmp', { skip: root ? false : 'the directory must be root\'s' }, () => {
    const { dir, cleanup } = tempDir();
    try {
      chmodSync(dir, 0o755);
      const shared = dirWithMode(dir, 'tmp', 0o1777);
      const said = trustProblems(shared, 'x', { directory: true }).join('; ');
      assert.match(said, /has mode 1777, writable by group or others; anyone may add files there; name a directory only root can write instead/);
      assert.doesNotMatch(said, /chmod go-w/);
      const open = dirWithMode(dir, 'open', 0o777); // not sticky: the mode is the mistake
      assert.match(trustProblems(open, 'x', { directory: true }).join('; '), /run: chmod go-w /);
    } finally {
      cleanup();
    }
  });
});
