// `konbini bench printer` runs this: the receiptline (npm) package encodes the receiptline
// document on stdin (the bench's typical receipt) to ESC/POS bytes, as the bench encodes its
// own, repeatedly for SECONDS (argv[2]), and prints one JSON line:
// {"version": "...", "receipts_per_s": N, "job_bytes": B}.
import { readFileSync } from 'node:fs';
import receiptline from 'receiptline';

const seconds = Number(process.argv[2] ?? '2');
const doc = readFileSync(0, 'utf8');
const printer = { command: 'escpos', cpl: 48, encoding: 'shiftjis' };
const version = JSON.parse(
  readFileSync(new URL('./node_modules/receiptline/package.json', import.meta.url), 'utf8'),
).version;

// The job as bytes (transform returns a binary string, one char a byte).
const encode = () => Buffer.from(receiptline.transform(doc, printer), 'binary');

let job = encode();
// Warm up the JIT before timing, as the Rust side runs optimised code from the start.
const warm = performance.now();
while (performance.now() - warm < 200) {
  job = encode();
}
let n = 0;
const start = performance.now();
let elapsed = 0;
while (elapsed < seconds * 1000) {
  for (let i = 0; i < 10; i++) {
    job = encode();
  }
  n += 10;
  elapsed = performance.now() - start;
}
console.log(JSON.stringify({ version, receipts_per_s: (n * 1000) / elapsed, job_bytes: job.length }));
