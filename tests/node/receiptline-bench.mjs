// `konbini-bench printer` runs this. On stdin: {"doc", "lines", "number"}: the bench's
// typical receipt as a receiptline document, and the same receipt as its lines. The
// receiptline (npm) package turns it into ESC/POS bytes, repeatedly for SECONDS (argv[2]),
// two ways:
// - from the prebuilt document (its parser and encoder only);
// - from the lines, building the document each time and then encoding it: like for like
//   with the Rust side, which goes from the sale to its layout to bytes each time.
// It prints one JSON line:
// {"version", "receipts_per_s", "built_receipts_per_s", "job_bytes"}.
import { readFileSync } from 'node:fs';
import receiptline from 'receiptline';

const seconds = Number(process.argv[2] ?? '2');
const input = JSON.parse(readFileSync(0, 'utf8'));
const printer = { command: 'escpos', cpl: 48, encoding: 'shiftjis' };
const version = JSON.parse(
  readFileSync(new URL('./node_modules/receiptline/package.json', import.meta.url), 'utf8'),
).version;

// receiptline's markup characters escaped; leading spaces kept as `~` (as the Rust side).
const text = (t) => {
  const body = t.replace(/^ +/, '');
  let out = '~'.repeat(t.length - body.length);
  for (const c of body) {
    out += '\\|{}-=~_"`^'.includes(c) ? `\\${c}` : c;
  }
  return out;
};

// The document from the lines, as the Rust side's `receiptline_document` builds it.
const build = (lines, number) => {
  let doc = '';
  for (const l of lines) {
    switch (l.kind) {
      case 'title': doc += l.double_width ? `^^^"${text(l.text)}` : `^^"${text(l.text)}`; break;
      case 'center': doc += text(l.text); break;
      case 'text': doc += `|${text(l.text)}`; break;
      case 'notice': doc += `|"${text(l.text)}`; break;
      case 'pair': doc += l.text === '' ? `| ${text(l.right)}` : `${text(l.text)} | ${text(l.right)}`; break;
      case 'big_pair': doc += `"${text(l.text)}" | "${text(l.right)}`; break;
      case 'rule': doc += '---'; break;
      case 'blank': break;
      default: throw new Error(`unknown line kind ${l.kind}`);
    }
    doc += '\n';
  }
  return `${doc}{code:${number}; option:code128,2,60,hri}\n`;
};

if (build(input.lines, input.number) !== input.doc) {
  console.error('the document built from the lines differs from the Rust side\'s');
  process.exit(1);
}

// The job as bytes (transform returns a binary string, one char a byte).
const fromDoc = () => Buffer.from(receiptline.transform(input.doc, printer), 'binary');
const fromLines = () =>
  Buffer.from(receiptline.transform(build(input.lines, input.number), printer), 'binary');

// Receipts per second of `encode` over SECONDS, after warming up the JIT (the Rust side
// runs optimised code from the start).
const rate = (encode) => {
  let job = encode();
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
  return { perSecond: (n * 1000) / elapsed, job };
};

const prebuilt = rate(fromDoc);
const built = rate(fromLines);
console.log(
  JSON.stringify({
    version,
    receipts_per_s: prebuilt.perSecond,
    built_receipts_per_s: built.perSecond,
    job_bytes: prebuilt.job.length,
  }),
);
