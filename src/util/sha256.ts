// SHA-256 (FIPS 180-4) without node:crypto, for the elim, which names its model by a
// digest of the file: importing node:crypto sets up OpenSSL and a dozen of Node's own
// modules, 0.6 MB of the elim's resident set (measured on the running daemon), for one
// digest of a few kB each time the model file changes. In the elim's interpreter
// (--lite-mode) it takes under 1 ms per kB: 5 ms for the default model, 1.2 s for a
// file at the loader's 2 MiB limit, which the daemon's reload digests a slice at a time
// (sha256HexSliced). Training code may use either: both give the same hex.

// The round constants and initial hash: the first 32 bits of the fractional parts of
// the cube roots of the first 64 primes and of the square roots of the first 8, as
// FIPS 180-4 defines them, computed rather than copied (a double holds them exactly
// enough; the tests compare every digest with node:crypto's).
const PRIMES = firstPrimes(64);
const K = Int32Array.from(PRIMES, (p) => fraction32(Math.cbrt(p)));
const H0 = Int32Array.from(PRIMES.slice(0, 8), (p) => fraction32(Math.sqrt(p)));

function firstPrimes(n: number): number[] {
  const primes: number[] = [];
  for (let c = 2; primes.length < n; c++) if (primes.every((p) => c % p !== 0)) primes.push(c);
  return primes;
}

function fraction32(x: number): number {
  return ((x - Math.floor(x)) * 2 ** 32) | 0;
}

// The digest of text's UTF-8 bytes in lowercase hex: createHash('sha256').update(text).digest('hex').
export function sha256Hex(text: string): string {
  const data = Buffer.from(text, 'utf8');
  const hash = Int32Array.from(H0);
  const w = new Int32Array(64);
  const whole = data.length & ~63;
  compress(hash, w, data, 0, whole);
  return finish(hash, w, data, whole);
}

// How much of a buffer sha256HexSliced digests between two turns of the event loop:
// about 9 ms of the elim's interpreter (--lite-mode), where the whole of a model at the
// loader's 2 MiB limit took 585-632 ms at once.
export const SHA256_SLICE_BYTES = 32 * 1024;

// sha256Hex of bytes, a slice at a time with a turn of the event loop between slices,
// so that the daemon's reports, timers and SIGTERM handler are not held for the whole
// digest of a large model file. signal aborted: rejects with its reason at the next turn.
export async function sha256HexSliced(bytes: Buffer, signal?: AbortSignal, sliceBytes = SHA256_SLICE_BYTES): Promise<string> {
  const hash = Int32Array.from(H0);
  const w = new Int32Array(64);
  const whole = bytes.length & ~63;
  const step = Math.max(64, sliceBytes & ~63);
  for (let at = 0; at < whole; at += step) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
    compress(hash, w, bytes, at, Math.min(whole, at + step));
  }
  return finish(hash, w, bytes, whole);
}

// The last blocks: data's bytes from `from` (under 64 of them), a 1 bit, zeros, and the
// length in bits as 64 bits, to a multiple of 64 bytes; then the digest in hex.
function finish(hash: Int32Array, w: Int32Array, data: Buffer, from: number): string {
  const rest = data.length - from;
  const block = Buffer.alloc(((rest + 72) >> 6) << 6);
  data.copy(block, 0, from);
  block[rest] = 0x80;
  const bits = data.length * 8;
  block.writeUInt32BE(Math.floor(bits / 2 ** 32), block.length - 8);
  block.writeUInt32BE(bits >>> 0, block.length - 4);
  compress(hash, w, block, 0, block.length);
  let hex = '';
  for (let i = 0; i < 8; i++) hex += (hash[i]! >>> 0).toString(16).padStart(8, '0');
  return hex;
}

// The compression function over data's 64-byte blocks from `from` to `to`, into hash (w: scratch).
function compress(hash: Int32Array, w: Int32Array, data: Buffer, from: number, to: number): void {
  for (let at = from; at < to; at += 64) {
    for (let i = 0; i < 16; i++) w[i] = data.readInt32BE(at + 4 * i);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = hash[0]!;
    let b = hash[1]!;
    let c = hash[2]!;
    let d = hash[3]!;
    let e = hash[4]!;
    let f = hash[5]!;
    let g = hash[6]!;
    let h = hash[7]!;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    hash[0] = (hash[0]! + a) | 0;
    hash[1] = (hash[1]! + b) | 0;
    hash[2] = (hash[2]! + c) | 0;
    hash[3] = (hash[3]! + d) | 0;
    hash[4] = (hash[4]! + e) | 0;
    hash[5] = (hash[5]! + f) | 0;
    hash[6] = (hash[6]! + g) | 0;
    hash[7] = (hash[7]! + h) | 0;
  }
}
