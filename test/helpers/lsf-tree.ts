// A temporary OpenLava installation for tests: etc/ (LSF_ENVDIR) with lsf.conf,
// lsf.shared, lsf.cluster.openlava and lsbatch/openlava/configdir/lsb.queues from
// test/fixtures/cluster/<sample>, an empty sbin/ (LSF_SERVERDIR) and log/.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers.js';

export interface LsfTree {
  root: string;
  etc: string;
  sbin: string;
  log: string;
  shared: string;
  cluster: string;
  queues: string;
  cleanup(): void;
}

// Builds the tree from the 'capture' (rank INCREASING N, elimtrig mapped) or 'fresh' sample.
export function lsfTree(sample: 'capture' | 'fresh'): LsfTree {
  const root = mkdtempSync(join(tmpdir(), 'lavarank-lsf-'));
  chmodSync(root, 0o755);
  const etc = join(root, 'etc');
  const configdir = join(etc, 'lsbatch', 'openlava', 'configdir');
  const sbin = join(root, 'sbin');
  const log = join(root, 'log');
  for (const dir of [configdir, sbin, log]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(etc, 'lsf.conf'), readFileSync(fixture('cluster', 'lsf.conf'), 'utf8').replaceAll('/opt/openlava', root));
  for (const name of ['lsf.shared', 'lsf.cluster.openlava']) copyFileSync(fixture('cluster', sample, name), join(etc, name));
  copyFileSync(fixture('cluster', sample, 'lsb.queues'), join(configdir, 'lsb.queues'));
  return {
    root,
    etc,
    sbin,
    log,
    shared: join(etc, 'lsf.shared'),
    cluster: join(etc, 'lsf.cluster.openlava'),
    queues: join(configdir, 'lsb.queues'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
