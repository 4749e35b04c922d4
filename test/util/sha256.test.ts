import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sha256Hex, sha256HexSliced } from '../../src/util/sha256.js';

const openssl = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('sha256Hex', () => {
  it('gives the FIPS 180-4 digests of "" and "abc"', () => {
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
  });

  it('agrees with node:crypto on every length from 0 to 200 bytes, across the padding boundaries', () => {
    for (let n = 0; n <= 200; n++) {
      const text = 'x'.repeat(n);
      assert.equal(sha256Hex(text), openssl(text), `length ${n}`);
    }
  });

  it('hashes the UTF-8 bytes of any text, as node:crypto does with a string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => sha256Hex(text) === openssl(text)), { numRuns: 500 });
  });

  it('agrees with node:crypto on a model file of the largest size the loader accepts', () => {
    const text = JSON.stringify({ weights: Array.from({ length: 200_000 }, (_, i) => (i * 0.618) % 1) }).slice(0, 2 * 1024 * 1024);
    assert.equal(sha256Hex(text), openssl(text));
  });
});

describe('sha256HexSliced', () => {
  it('agrees with node:crypto for every length and slice size, across block and slice boundaries', async () => {
    for (const slice of [64, 100, 128, 4096]) {
      for (let n = 0; n <= 300; n += 7) {
        const bytes = Buffer.from('y'.repeat(n));
        assert.equal(await sha256HexSliced(bytes, undefined, slice), createHash('sha256').update(bytes).digest('hex'), `length ${n}, slice ${slice}`);
      }
    }
  });

  it('lets the event loop turn between slices', async () => {
    let turns = 0;
    const count = (): void => {
      turns++;
      if (!done) setImmediate(count);
    };
    let done = false;
    setImmediate(count);
    await sha256HexSliced(Buffer.alloc(64 * 10), undefined, 64);
    done = true;
    assert.ok(turns >= 9, `${turns} turns for 10 slices`);
  });

  it('rejects with the abort reason at the next slice once the signal is aborted', async () => {
    const stop = new AbortController();
    const digest = sha256HexSliced(Buffer.alloc(64 * 10), stop.signal, 64);
    stop.abort(new Error('stopping'));
    await assert.rejects(digest, /stopping/);
  });
});
