#!/usr/bin/env node
// mu-qdq-run: drives the QDQ ONNX models that `mu-compile --emit=qdq-onnx`
// writes (prefill.onnx + decode.onnx + mu-qdq.json) with ONNX Runtime's CPU
// provider (npm onnxruntime-node) and a KV-cache loop, and prints JSON.
//
//   node mu-qdq-run.js DIR --teacher IDS.json     top-1 after every prefix of
//                                                 the ids in IDS.json ({"ids": [...]},
//                                                 as `mu-run --teacher-forced` prints)
//   node mu-qdq-run.js DIR --prompt-ids "1 2 3" --greedy N
//                                                 prefill (static models: padded
//                                                 fixed chunks with their length,
//                                                 fixed-size caches), then N greedy
//                                                 steps
//   node mu-qdq-run.js DIR --seq2seq EX.json      encoder-decoder (encoder.onnx +
//                                                 decoder.onnx): runs each example's
//                                                 source, then its decoder tokens
//                                                 teacher-forced (`mu-run
//                                                 --teacher-forced dev.jsonl` output)
//   options: --threads N (default 1)  --save-optimized FILE (decode graph after
//            ONNX Runtime's optimizer, for counting its fused integer nodes)
//            --bench (time a 64-token prefill and decode steps)
//
// onnxruntime-node must resolve from the working directory or NODE_PATH.
'use strict';
const fs = require('fs');
const path = require('path');

function usage(msg) {
  console.error('mu-qdq-run: error: ' + msg);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { threads: 1 };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(k + ' needs a value');
      return argv[++i];
    };
    if (k === '--teacher') a.teacher = next();
    else if (k === '--seq2seq') a.seq2seq = next();
    else if (k === '--prompt-ids') a.promptIds = next().trim().split(/\s+/).map(Number);
    else if (k === '--greedy') a.greedy = Number(next());
    else if (k === '--threads') a.threads = Number(next());
    else if (k === '--save-optimized') a.saveOptimized = next();
    else if (k === '--bench') a.bench = true;
    else if (k.startsWith('--')) usage('unknown option ' + k);
    else if (!a.dir) a.dir = k;
    else usage('unexpected argument ' + k);
  }
  if (!a.dir) usage('expected the models directory');
  return a;
}

let ort;
try {
  // From the working directory (an npm install there) or NODE_PATH.
  ort = require(require.resolve('onnxruntime-node',
                                { paths: [process.cwd()].concat((process.env.NODE_PATH || '').split(':')) }));
} catch (e) {
  console.error('mu-qdq-run: onnxruntime-node is not installed (npm install onnxruntime-node@1.30.0)');
  process.exit(77);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const sidecarPath = path.join(args.dir, 'mu-qdq.json');
  if (!fs.existsSync(sidecarPath)) usage(sidecarPath + ' not found (mu-compile --emit=qdq-onnx -o DIR)');
  const side = JSON.parse(fs.readFileSync(sidecarPath, 'utf8'));
  const kv = side.kv_cache;
  const opts = (optimized) => {
    const o = {
      executionProviders: ['cpu'],
      intraOpNumThreads: args.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: process.env.MU_ORT_OPT || 'all',
    };
    // ONNX Runtime turns DQ(int8 weight) -> MatMul into MatMulNBits and by
    // default (accuracy level 4) then quantizes the float activations to int8
    // on the fly: numerics the QDQ graph does not ask for. Level 0 keeps them
    // float (MU_ORT_ACCURACY_LEVEL overrides).
    o.extra = { session: { qdq_matmulnbits_accuracy_level: process.env.MU_ORT_ACCURACY_LEVEL || '0' } };
    if (optimized) o.optimizedModelFilePath = optimized;
    return o;
  };
  if (side.models.encoder) return seq2seq(args, side, opts);
  const decode = await ort.InferenceSession.create(
    path.join(args.dir, side.models.decode.file), opts(args.saveOptimized));
  const prefill = await ort.InferenceSession.create(path.join(args.dir, side.models.prefill.file), opts());
  const chunk = side.models.prefill.sequence_length || 0;

  // Static shapes (kv_cache.static): the caches are fixed max_length-row
  // buffers the graphs update at the position; prefill takes exactly `chunk`
  // tokens, the last chunk padded, with its valid `length`.
  const fixed = !!kv.static;
  const rows = fixed ? kv.max_length : 0;
  let past = null;
  const reset = () => {
    past = {};
    for (let i = 0; i < kv.layers; ++i)
      for (const n of ['key', 'value'])
        past[`past_key_values.${i}.${n}`] = new ort.Tensor(
            'float32', new Float32Array(kv.kv_heads * rows * kv.head_dim), [1, kv.kv_heads, rows, kv.head_dim]);
  };
  // Runs `ids` at positions start.. through one session; returns the logits
  // of the last (valid) position and keeps the updated cache.
  const run = async (session, ids, start, length) => {
    const n = ids.length;
    const feeds = Object.assign({}, past);
    if (length !== undefined) feeds.length = new ort.Tensor('int64', BigInt64Array.from([BigInt(length)]), []);
    feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]);
    const pos = new BigInt64Array(n);
    for (let i = 0; i < n; ++i) pos[i] = BigInt(start + i);
    feeds.position_ids = new ort.Tensor('int64', pos, [1, n]);
    const out = await session.run(feeds);
    for (let i = 0; i < kv.layers; ++i)
      for (const k of ['key', 'value']) past[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
    const lg = out.logits;
    const vocab = lg.dims[lg.dims.length - 1];
    const seq = lg.dims.length === 3 ? lg.dims[1] : 1;
    const row = seq > 1 && length !== undefined ? length - 1 : seq - 1;
    return lg.data.subarray(row * vocab, (row + 1) * vocab);
  };
  const argmax = (row) => {
    let best = 0;
    for (let v = 1; v < row.length; ++v) if (row[v] > row[best]) best = v;
    return best;
  };
  // A prompt: whole chunks through prefill, the rest through decode.
  const feedPrompt = async (ids) => {
    let at = 0, last = null;
    if (fixed && chunk > 1) {
      // Padded chunks (as mu-run does): near the end of the cache a chunk
      // starts earlier, re-feeding cached tokens.
      while (at < ids.length) {
        const n = Math.min(ids.length - at, chunk);
        if (at + n > rows) throw new Error(`context is full: ${at + n} tokens exceed ${rows}`);
        if (n === 1) {
          last = await run(decode, [ids[at]], at);
        } else {
          const start = at + chunk > rows ? Math.max(0, rows - chunk) : at;
          const valid = at + n - start;
          const padded = ids.slice(start, start + valid).concat(new Array(chunk - valid).fill(0));
          last = await run(prefill, padded, start, valid);
        }
        at += n;
      }
      return last;
    }
    while (at < ids.length) {
      const left = ids.length - at;
      if (left > 1 && (!chunk || left >= chunk)) {
        const n = chunk || left;
        last = await run(prefill, ids.slice(at, at + n), at);
        at += n;
      } else {
        last = await run(decode, [ids[at]], at);
        at += 1;
      }
    }
    return last;
  };

  const result = { engine: 'onnxruntime-node', threads: args.threads, target: side.target, scheme: side.scheme };
  if (args.teacher) {
    const ids = JSON.parse(fs.readFileSync(args.teacher, 'utf8')).ids;
    reset();
    result.top1 = [];
    for (let j = 0; j < ids.length; ++j) result.top1.push(argmax(await run(decode, [ids[j]], j)));
  }
  if (args.promptIds) {
    reset();
    const seq = args.promptIds.slice();
    let last = await feedPrompt(seq);
    const gen = [];
    for (let s = 0; s < (args.greedy || 0); ++s) {
      const t = argmax(last);
      gen.push(t);
      seq.push(t);
      if (s + 1 < args.greedy) last = await run(decode, [t], seq.length - 1);
    }
    result.generated = gen;
  }
  if (args.bench) {
    const prompt = Array.from({ length: 64 }, (_, i) => 10 + i);
    let bestPrefill = Infinity, bestStep = Infinity;
    for (let r = 0; r < 3; ++r) {
      reset();
      let t0 = process.hrtime.bigint();
      await feedPrompt(prompt);
      bestPrefill = Math.min(bestPrefill, Number(process.hrtime.bigint() - t0) / 1e6);
      t0 = process.hrtime.bigint();
      const steps = 32;
      for (let s = 0; s < steps; ++s) await run(decode, [5], prompt.length + s);
      bestStep = Math.min(bestStep, Number(process.hrtime.bigint() - t0) / 1e6 / steps);
    }
    result.prefill64_ms = bestPrefill;
    result.decode_step_ms = bestStep;
    result.decode_tokens_per_s = 1000 / bestStep;
  }
  console.log(JSON.stringify(result));
}

// Encoder-decoder: the encoder's cross K/V feed every decoder step.
async function seq2seq(args, side, opts) {
  if (!args.seq2seq) usage('an encoder-decoder model directory needs --seq2seq EX.json');
  const kv = side.kv_cache;
  const enc = await ort.InferenceSession.create(path.join(args.dir, side.models.encoder.file), opts());
  const dec = await ort.InferenceSession.create(path.join(args.dir, side.models.decoder.file),
                                                opts(args.saveOptimized));
  const data = JSON.parse(fs.readFileSync(args.seq2seq, 'utf8'));
  const ids = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
  const result = { engine: 'onnxruntime-node', threads: args.threads, target: side.target,
                   scheme: side.scheme, examples: [] };
  // Static shapes: the source padded to the encoder's fixed length, with
  // its valid count for the encoder and every decoder step.
  const fixedSrc = enc.inputNames.includes('source_length') ? side.models.encoder.sequence_length : 0;
  const scalar = (v) => new ort.Tensor('int64', BigInt64Array.from([BigInt(v)]), []);
  for (const ex of data.examples) {
    const encFeeds = {};
    if (fixedSrc) {
      if (ex.source.length > fixedSrc) throw new Error(`a source of ${ex.source.length} tokens exceeds ${fixedSrc}`);
      encFeeds[enc.inputNames[0]] = ids(ex.source.concat(new Array(fixedSrc - ex.source.length).fill(0)));
      encFeeds.source_length = scalar(ex.source.length);
    } else {
      encFeeds[enc.inputNames[0]] = ids(ex.source);
    }
    const eo = await enc.run(encFeeds);
    const feeds = {};
    if (dec.inputNames.includes('source_length')) feeds.source_length = scalar(ex.source.length);
    for (const n of dec.inputNames) if (n.startsWith('cross.')) feeds[n] = eo[n];
    const rows = kv.static ? kv.max_length : 0; // a fixed-size cache, updated in the graph
    for (let i = 0; i < kv.layers; ++i)
      for (const k of ['key', 'value'])
        feeds[`past_key_values.${i}.${k}`] = new ort.Tensor(
            'float32', new Float32Array(kv.kv_heads * rows * kv.head_dim), [1, kv.kv_heads, rows, kv.head_dim]);
    const top1 = [];
    for (let j = 0; j < ex.decoder.length; ++j) {
      feeds[dec.inputNames[0]] = ids([ex.decoder[j]]);
      feeds.position_ids = ids([j]);
      const out = await dec.run(feeds);
      for (let i = 0; i < kv.layers; ++i)
        for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = out[`present.${i}.${k}`];
      const lg = out.logits.data, vocab = out.logits.dims[out.logits.dims.length - 1];
      let best = 0;
      for (let v = 1; v < vocab; ++v) if (lg[lg.length - vocab + v] > lg[lg.length - vocab + best]) best = v;
      top1.push(best);
    }
    result.examples.push({ top1 });
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error('mu-qdq-run: error: ' + (e && e.message ? e.message : String(e)));
  process.exit(1);
});
