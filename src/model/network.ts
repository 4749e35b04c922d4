// The daemon's own forward pass over a validated brain.js network. It reproduces
// brain.js 1.6.1's NeuralNetwork.run() bit for bit (same float32 storage, same
// summation order, same activation on every layer, the output layer included), so
// what training measured is what the daemon computes, without loading brain.js
// (which pulls in gpu.js: about 1.2 ms more CPU per report and 10 MB more RSS).

import { taggedArray } from '../util/tagged.js';

// The activations brain.js 1.6.1 knows.
export const ACTIVATIONS = ['sigmoid', 'relu', 'leaky-relu', 'tanh'] as const;
// One of ACTIVATIONS.
export type Activation = (typeof ACTIVATIONS)[number];

// A network's numbers, already checked: layer l (1..L) has sizes[l] nodes, each
// with a bias and sizes[l-1] weights.
export interface NetworkWeights {
  sizes: readonly number[];
  activation: Activation;
  leakyReluAlpha: number;
  biases: readonly (readonly number[])[]; // biases[l][node]; biases[0] unused
  weights: readonly (readonly (readonly number[])[])[]; // weights[l][node][k]; weights[0] unused
}

const SIGMOID = 0;
const RELU = 1;
const LEAKY_RELU = 2;
const TANH = 3;
const CODES: Record<Activation, number> = { sigmoid: SIGMOID, relu: RELU, 'leaky-relu': LEAKY_RELU, tanh: TANH };

// A forward pass with every buffer allocated once: run() allocates only the numbers it computes.
export class Network {
  readonly inputs: number;
  private readonly layers: number; // index of the output layer
  private readonly sizes: number[];
  private readonly code: number;
  private readonly alpha: number;
  // brain.js keeps weights, biases and layer outputs in Float32Arrays. Here they are
  // the same float32 values (Math.fround) in tagged arrays (src/util/tagged.ts): the
  // daemon runs this in the interpreter, which boxes every value read from a typed
  // array into a fresh heap number (two per multiply-add, 16 bytes each, on top of
  // the product and the sum), and never a value read from a tagged array.
  private readonly w: number[][];
  private readonly b: number[][];
  private readonly out: number[][];

  constructor(net: NetworkWeights) {
    this.sizes = [...net.sizes];
    this.layers = net.sizes.length - 1;
    this.inputs = net.sizes[0] ?? 0;
    this.code = CODES[net.activation];
    this.alpha = net.leakyReluAlpha;
    this.w = [[]];
    this.b = [[]];
    this.out = [[]];
    for (let l = 1; l <= this.layers; l++) {
      const n = net.sizes[l] ?? 0;
      const m = net.sizes[l - 1] ?? 0;
      this.w.push(taggedArray(n * m, (j) => Math.fround(net.weights[l]?.[Math.floor(j / m)]?.[j % m] ?? NaN)));
      this.b.push(taggedArray(n, (node) => Math.fround(net.biases[l]?.[node] ?? NaN)));
      this.out.push(taggedArray(n, () => 0));
    }
  }

  // The first output for an input of `inputs` values (as brain.js's run(input)[0]).
  run(input: ArrayLike<number>): number {
    const sizes = this.sizes;
    const code = this.code;
    const alpha = this.alpha;
    let x: ArrayLike<number> = input;
    let y = this.out[0]!;
    for (let l = 1; l <= this.layers; l++) {
      const n = sizes[l]!;
      const m = sizes[l - 1]!;
      const w = this.w[l]!;
      const b = this.b[l]!;
      y = this.out[l]!;
      for (let node = 0; node < n; node++) {
        let sum = b[node]!;
        const base = node * m;
        // A zero input adds ±0 (the weights are finite), which leaves a nonzero sum as
        // it is: it is skipped then. Idle subsystems make about half of a host's inputs
        // 0, and each multiply-add is two heap numbers in the interpreter. A sum of ±0
        // still takes it, for the sign of a zero to come out as brain.js's.
        for (let k = 0; k < m; k++) {
          const xk = x[k]!;
          if (xk !== 0 || sum === 0) sum += w[base + k]! * xk;
        }
        let v: number;
        if (code === SIGMOID) v = 1 / (1 + Math.exp(-sum));
        else if (code === RELU) v = sum < 0 ? 0 : sum;
        // Sic: brain.js 1.6.1's _runInputLeakyRelu gives 0 below zero and alpha*sum
        // above. The network was trained (and evaluated) with exactly that.
        else if (code === LEAKY_RELU) v = sum < 0 ? 0 : alpha * sum;
        else v = Math.tanh(sum);
        // brain.js stores it in a Float32Array: rounded to float32 for the next layer.
        y[node] = Math.fround(v);
      }
      x = y;
    }
    return y[0]!;
  }
}
