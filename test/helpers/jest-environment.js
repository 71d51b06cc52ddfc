/**
 * Jest's node environment, sharing the main realm's typed-array constructors with each test file.
 *
 * Jest runs every test file in its own realm; onnxruntime-node builds its output tensors in the main realm and then
 * checks them against the test realm's Float32Array, so `session.run` fails under jest and nowhere else. Jest
 * already shares Uint8Array and ArrayBuffer the same way.
 */
const { TestEnvironment } = require('jest-environment-node');

const TYPED = ['Float32Array', 'Float64Array', 'Int8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array'];

module.exports = class SharedTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED) this.global[name] = globalThis[name];
  }
};
