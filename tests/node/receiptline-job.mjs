// tests/it/printer.rs runs this: a print job as the receiptline (npm) package emits it
// (ESC/POS, 48 columns, Shift_JIS) for a document with Japanese text, two-column amounts,
// rules, a CODE128 bar code with its text and a QR code, written to the file argv[2]; the
// same document without the QR code to argv[3].
import { writeFileSync } from 'node:fs';
import receiptline from 'receiptline';

const doc = `^^^ローソン 大通公園店
店舗 0815 | レジ T02
---
|おにぎり 鮭 | ¥150
|緑茶 500ml | ¥120
---
^"合計 | ^"¥270
{code:T02-000777; option:code128,2,60,hri}
{code:https://example.jp/r/T02-000777; option:qrcode,4,m}
ありがとうございました
`;
const printer = { command: 'escpos', cpl: 48, encoding: 'shiftjis' };
const write = (path, text) =>
  writeFileSync(path, Buffer.from(receiptline.transform(text, printer), 'binary'));
write(process.argv[2], doc);
write(process.argv[3], doc.replace(/^\{code:https.*\n/m, ''));
