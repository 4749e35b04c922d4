import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errnoReason, errnoWords, errorCode, errorMessage, errorReason } from '../../src/util/errors.js';

// What Node 20 throws for EDQUOT, an errno libuv has no name for: seen on a btrfs
// subvolume over its qgroup limit (`open`, `write`), the same for a user over a quota.
function quotaError(): Error {
  return Object.assign(new Error("Unknown system error -122: Unknown system error -122, open '/srv/lsf/model.json.lock'"), {
    errno: -122,
    code: 'Unknown system error -122',
    syscall: 'open',
    path: '/srv/lsf/model.json.lock',
  });
}

describe('errors', () => {
  test('errorCode names a disk quota exceeded EDQUOT, not "Unknown system error -122"', () => {
    assert.equal(errorCode(quotaError()), 'EDQUOT');
  });

  test('errorMessage says what EDQUOT means where Node says "Unknown system error -122"', () => {
    assert.equal(errorMessage(quotaError()), "EDQUOT: disk quota exceeded, open '/srv/lsf/model.json.lock'");
  });

  test('errorCode and errorMessage leave a system error libuv names as Node gave it', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { errno: -28, code: 'ENOSPC', syscall: 'write' });
    assert.deepEqual([errorCode(err), errorMessage(err)], ['ENOSPC', 'ENOSPC: no space left on device, write']);
  });

  test('errnoWords gives the meaning of errnos libuv has and of those it lacks, and nothing for a name that is no errno', () => {
    assert.deepEqual([errnoWords('EIO'), errnoWords('EDQUOT'), errnoWords('ESTALE'), errnoWords('ERR_INVALID_ARG_TYPE')], ['i/o error', 'disk quota exceeded', 'stale file handle', undefined]);
  });

  test('errorReason gives a system error as its errno and what it means', () => {
    const err = Object.assign(new Error('EIO: i/o error, fsync'), { errno: -5, code: 'EIO', syscall: 'fsync' });
    assert.deepEqual([errorReason(err), errorReason(quotaError())], ['EIO (i/o error)', 'EDQUOT (disk quota exceeded)']);
  });

  test('errnoReason words an errno known by its name as errorReason words the error, and gives nothing for a name that is no errno', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), { errno: -28, code: 'ENOSPC', syscall: 'write' });
    assert.deepEqual([errnoReason('ENOSPC'), errnoReason('EDQUOT'), errnoReason('ERR_SYSTEM_ERROR')], [errorReason(err), errorReason(quotaError()), undefined]);
  });

  test('errorReason gives lavarank\'s own error carrying an errno code as its message', () => {
    const err = Object.assign(new Error('/var/log/lavarank kept being removed while it was made'), { code: 'EAGAIN' });
    assert.equal(errorReason(err), '/var/log/lavarank kept being removed while it was made');
  });
});
