import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { functionSpans } from '../../scripts/long-functions.js';

describe('functionSpans (npm run long-functions)', () => {
  it('names each function by its own, its variable\'s or its method\'s name and counts its lines, nested ones too', () => {
    const text = ['function outer() {', '  const inner = () => {', '    return 1;', '  };', '  return inner();', '}', 'class A {', '  m(): void {}', '}', ''].join('\n');
    assert.deepEqual(
      functionSpans('x.ts', text).map(({ name, line, lines }) => [name, line, lines]),
      [['outer', 1, 6], ['inner', 2, 3], ['m', 8, 1]],
    );
  });
  it('leaves out signatures without a body', () => {
    assert.deepEqual(functionSpans('x.ts', 'declare function f(): void;\ninterface I { g(): void }\n'), []);
  });
});
