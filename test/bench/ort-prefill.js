// ONNX Runtime side of test/bench/decode-speed.sh: times one whole-sequence
// run (prefill of a 64-token prompt, full logits) of an ONNX LM on the CPU
// execution provider with N intra-op threads; prints JSON.
//   node ort-prefill.js MODEL.onnx THREADS [TOKENS] [REPEATS]
// Needs onnxruntime-node (npm) resolvable from the working directory.
const ort = require('onnxruntime-node');

async function main() {
  const [model, threads, tokens = '64', repeats = '5'] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const n = Number(tokens);
  const ids = new BigInt64Array(n);
  for (let i = 0; i < n; ++i) ids[i] = BigInt(10 + i);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('int64', ids, [1, n]) };
  await session.run(feeds); // warm-up
  let best = Infinity;
  for (let r = 0; r < Number(repeats); ++r) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  console.log(JSON.stringify({ threads: Number(threads), tokens: n, prefill_ms: best }));
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
