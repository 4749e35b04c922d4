import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import brain from 'brain.js';
import { FEATURE_NAMES } from '../../src/model/features.js';
import { parseModel, validateModel } from '../../src/model/model.js';
import { ACTIVATIONS, Network, type Activation } from '../../src/model/network.js';
import { seededRandom } from '../../src/util/random.js';
import { withSeededRandom } from '../../src/training/train.js';
import { randomModelFile, randomNetwork } from './helpers.js';

const N = FEATURE_NAMES.length;

function inputs(count: number, seed: number, width = N): number[][] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => Array.from({ length: width }, () => rand()));
}

function ours(json: ReturnType<typeof randomNetwork>): Network {
  const file = randomModelFile();
  file.residual.network = json;
  const network = parseModel(JSON.stringify(file), 'test').network;
  assert.ok(network !== undefined);
  return network;
}

function brainFrom(json: object): brain.NeuralNetwork {
  return new brain.NeuralNetwork().fromJSON(json as brain.INeuralNetworkJSON);
}

function assertSame(mine: Network, theirs: brain.NeuralNetwork, xs: number[][]): void {
  for (const x of xs) {
    const expected = theirs.run(x)[0];
    const got = mine.run(x);
    assert.ok(Object.is(got, expected), `input ${JSON.stringify(x.slice(0, 3))}...: ours ${got}, brain.js ${expected}`);
  }
}

describe('the forward pass', () => {
  for (const activation of ACTIVATIONS) {
    it(`equals brain.js 1.6.1 run() bit for bit on random ${activation} networks of several shapes`, () => {
      for (const [i, hidden] of [[], [5], [12, 8], [3, 7, 4]].entries()) {
        const json = randomNetwork([N, ...hidden, 1], activation, 10 + i);
        assertSame(ours(json), brainFrom(json), inputs(200, i));
      }
    });
  }

  // Inputs as an idle host gives them: about half exactly 0, and all-zero vectors.
  function sparseInputs(count: number, seed: number): number[][] {
    const rand = seededRandom(seed);
    const xs = Array.from({ length: count }, () => Array.from({ length: N }, () => (rand() < 0.5 ? 0 : rand())));
    return [...xs, Array<number>(N).fill(0)];
  }

  for (const activation of ACTIVATIONS) {
    it(`equals brain.js bit for bit on ${activation} networks when most inputs are 0`, () => {
      for (const [i, hidden] of [[], [8], [12, 8]].entries()) {
        const json = randomNetwork([N, ...hidden, 1], activation, 30 + i);
        assertSame(ours(json), brainFrom(json), sparseInputs(200, 40 + i));
      }
    });

    it(`gives the sign of a zero as brain.js does when ${activation} sums start at -0`, () => {
      // Biases of -0 (JSON can carry them) and zero inputs make sums of ±0 throughout.
      const json = randomNetwork([N, 5, 1], activation, 50);
      for (const layer of json.layers.slice(1)) for (const node of Object.values(layer)) node.bias = -0;
      // Validated from the object, as parseModel does after JSON.parse: stringified, -0 would become 0.
      const file = randomModelFile();
      file.residual.network = json;
      const mine = validateModel(file, 'test').network;
      assert.ok(mine !== undefined);
      const xs = [Array<number>(N).fill(0), ...sparseInputs(50, 51).map((x) => x.map((v, k) => (k % 3 === 0 ? v : 0)))];
      assertSame(mine, brainFrom(json), xs);
    });
  }

  for (const activation of ['sigmoid', 'tanh', 'relu'] as Activation[]) {
    it(`equals brain.js run() on a ${activation} network brain.js trained`, () => {
      const rand = seededRandom(7);
      const data = Array.from({ length: 60 }, () => {
        const input = Array.from({ length: N }, () => rand());
        return { input, output: [0.3 * input[0]! + 0.2 * input[4]! + 0.1] };
      });
      const net = new brain.NeuralNetwork({ hiddenLayers: [6, 4], activation });
      withSeededRandom(3, () => net.train(data, { iterations: 30, learningRate: 0.05 }));
      const json = net.toJSON() as unknown as ReturnType<typeof randomNetwork>;
      assertSame(ours(json), net, [...data.map((d) => d.input), ...inputs(50, 9)]);
    });
  }

  it('reproduces brain.js 1.6.1 leaky-relu as it is: 0 below zero, alpha × sum above', () => {
    const json = randomNetwork([N, 1], 'leaky-relu', 4);
    json.leakyReluAlpha = 0.5;
    const net = ours(json);
    const node = json.layers[1]!['0']!;
    const x = inputs(1, 5)[0]!;
    let sum = Math.fround(node.bias!);
    for (let k = 0; k < N; k++) sum += Math.fround(node.weights![String(k)]!) * x[k]!;
    assert.equal(net.run(x), Math.fround(sum < 0 ? 0 : 0.5 * sum));
  });

  it('holds weights and biases that are not float32 values as brain.js\'s Float32Arrays do, rounded to float32', () => {
    // Doubles with more precision than a float32 holds, as a hand-edited or another tool's file may carry.
    const rand = seededRandom(13);
    const double = (): number => (rand() * 2 - 1) * 2 + rand() * 1e-9;
    for (const activation of ['relu', 'tanh'] as Activation[]) {
      const json = randomNetwork([N, 8, 1], activation, 8);
      for (const layer of json.layers.slice(1)) {
        for (const node of Object.values(layer)) {
          node.bias = double();
          for (const k of Object.keys(node.weights!)) node.weights![k] = double();
        }
      }
      assert.notEqual(json.layers[1]!['0']!.bias, Math.fround(json.layers[1]!['0']!.bias!));
      assertSame(ours(json), brainFrom(json), inputs(200, 12));
    }
  });

  it('gives the same answer on repeated calls (its buffers carry nothing over)', () => {
    const net = ours(randomNetwork([N, 8, 1], 'sigmoid', 2));
    const [a, b] = inputs(2, 3);
    const first = net.run(a!);
    net.run(b!);
    assert.equal(net.run(a!), first);
  });

  it('runs in well under 50 µs per call', () => {
    const net = ours(randomNetwork([N, 12, 8, 1], 'sigmoid', 2));
    const x = inputs(1, 1)[0]!;
    for (let i = 0; i < 2000; i++) net.run(x);
    const rounds: number[] = [];
    for (let r = 0; r < 9; r++) {
      const t = performance.now();
      for (let i = 0; i < 1000; i++) net.run(x);
      rounds.push(((performance.now() - t) * 1000) / 1000);
    }
    rounds.sort((p, q) => p - q);
    assert.ok(rounds[4]! < 50, `median ${rounds[4]} µs per call`);
  });
});
