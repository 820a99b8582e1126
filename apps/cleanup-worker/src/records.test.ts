import { describe, expect, it } from 'vitest';
import { type MalformedRecord, type RawRecord, RecordSplitter } from './records.js';

function split(text: string, chunkSize = text.length, maxRecordLines?: number) {
  const records: RawRecord[] = [];
  const malformed: MalformedRecord[] = [];
  const splitter = new RecordSplitter({
    delimiter: ',',
    ...(maxRecordLines ? { maxRecordLines } : {}),
    onRecord: (r) => records.push(r),
    onMalformed: (r) => malformed.push(r),
  });
  for (let i = 0; i < text.length; i += chunkSize) splitter.push(text.slice(i, i + chunkSize));
  splitter.end();
  return { records, malformed };
}

describe('RecordSplitter', () => {
  const text = '\uFEFFa,b\r\n1,"x\ny"\n2,"he said ""hi"""\n3,"bad"x\n4,5\n\n6,7';
  it.each([1, 3, 1000])('keeps multi-line fields whole and isolates broken quotes (chunks of %i)', (size) => {
    const { records, malformed } = split(text, size);
    expect(records).toEqual([
      { line: 1, text: 'a,b' },
      { line: 2, text: '1,"x\ny"' },
      { line: 4, text: '2,"he said ""hi"""' },
      { line: 6, text: '4,5' },
      { line: 7, text: '' },
      { line: 8, text: '6,7' },
    ]);
    expect(malformed).toEqual([
      { line: 5, text: '3,"bad"x', reason: expect.stringContaining('invalid quote at column 8') },
    ]);
  });

  it('rejects an opening quote that never closes and reads the lines after it afresh', () => {
    const { records, malformed } = split('a,b\n1,"open\n2,3\n4,5\n');
    expect(malformed).toEqual([{ line: 2, text: '1,"open', reason: expect.stringContaining('unclosed quote') }]);
    expect(records.map((r) => r.line)).toEqual([1, 3, 4]);
  });

  it('gives up on a quoted field after maxRecordLines lines', () => {
    const lines = Array.from({ length: 20 }, (_, i) => `${i},x`);
    const { records, malformed } = split(`a,b\n9,"runaway\n${lines.join('\n')}\n"closing,late\n`, 7, 5);
    expect(malformed[0]).toMatchObject({ line: 2, reason: expect.stringContaining('unclosed quote') });
    expect(records.some((r) => r.line === 3 && r.text === '0,x')).toBe(true);
  });
});
