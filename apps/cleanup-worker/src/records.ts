/**
 * Splits CSV text into records before csv-parse sees them, so one malformed record can never
 * swallow the rest of the file. A record is one line, or several when a quoted field holds line
 * breaks. A record whose quotes are broken (`"a"b`, or a quote that never closes within
 * `maxRecordLines` lines) is reported as malformed with its line number, and splitting resumes on
 * the next line. Only well-formed records reach csv-parse, which then splits their fields.
 */

/** A record as it appeared in the file: its text (without the final line break) and first line. */
export interface RawRecord {
  line: number;
  text: string;
}

/** A record that could not be read, with why. */
export interface MalformedRecord extends RawRecord {
  reason: string;
}

const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;
type ScanState = typeof FIELD_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED;

/**
 * Scans one line from `state`; returns the state at its end, or the column of a broken quote.
 * Jumps with `indexOf` between the only characters that matter (delimiters, and quotes inside
 * quoted fields), so a long line costs a few native searches, not a loop per character.
 */
function scan(text: string, delimiter: string, state: ScanState): ScanState | { invalidAt: number } {
  let current = state;
  let i = 0;
  const length = text.length;
  for (;;) {
    switch (current) {
      case FIELD_START:
        if (i >= length) return FIELD_START;
        if (text[i] === '"') {
          current = QUOTED;
          i += 1;
        } else {
          current = UNQUOTED;
        }
        break;
      case UNQUOTED: {
        // A quote inside an unquoted field is kept as a character (csv-parse's relax_quotes).
        const next = text.indexOf(delimiter, i);
        if (next === -1) return UNQUOTED;
        i = next + 1;
        current = FIELD_START;
        break;
      }
      case QUOTED: {
        const quote = text.indexOf('"', i);
        if (quote === -1) return QUOTED;
        i = quote + 1;
        current = QUOTE_IN_QUOTED;
        break;
      }
      case QUOTE_IN_QUOTED:
        if (i >= length) return QUOTE_IN_QUOTED;
        if (text[i] === '"') {
          current = QUOTED;
          i += 1;
        } else if (text[i] === delimiter) {
          current = FIELD_START;
          i += 1;
        } else {
          return { invalidAt: i + 1 };
        }
        break;
    }
  }
}

export interface RecordSplitterOptions {
  delimiter: string;
  /** Most lines one quoted field may span before its opening quote is judged unclosed. */
  maxRecordLines?: number;
  onRecord(record: RawRecord): void;
  onMalformed(record: MalformedRecord): void;
}

/** Feeds text in chunks of any size; calls back with every record in order. */
export class RecordSplitter {
  readonly #delimiter: string;
  readonly #maxLines: number;
  readonly #onRecord: (record: RawRecord) => void;
  readonly #onMalformed: (record: MalformedRecord) => void;
  #partial = '';
  #line = 0;
  #open: { line: number; lines: string[]; state: ScanState } | undefined;
  #first = true;

  constructor(options: RecordSplitterOptions) {
    this.#delimiter = options.delimiter;
    this.#maxLines = options.maxRecordLines ?? 1000;
    this.#onRecord = options.onRecord;
    this.#onMalformed = options.onMalformed;
  }

  push(chunk: string): void {
    let text = this.#partial + chunk;
    if (this.#first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      this.#first = false;
    }
    let start = 0;
    for (let end = text.indexOf('\n', start); end !== -1; end = text.indexOf('\n', start)) {
      this.#physicalLine(text.slice(start, end));
      start = end + 1;
    }
    this.#partial = text.slice(start);
  }

  end(): void {
    if (this.#partial.length > 0) {
      this.#physicalLine(this.#partial);
      this.#partial = '';
    }
    while (this.#open) this.#unclosed();
  }

  #physicalLine(raw: string): void {
    this.#line += 1;
    this.#handle(raw.endsWith('\r') ? raw.slice(0, -1) : raw, this.#line);
  }

  #handle(line: string, number: number): void {
    const open = this.#open;
    if (open) {
      open.lines.push(line);
      // Inside a quoted field a line without quotes changes nothing.
      const state = line.includes('"') ? scan(line, this.#delimiter, open.state) : open.state;
      if (typeof state === 'object') {
        this.#open = undefined;
        this.#onMalformed({
          line: open.line,
          text: open.lines.join('\n'),
          reason: `invalid quote on line ${number}, column ${state.invalidAt}: a closing quote must be followed by "${this.#delimiter}" or the end of the line`,
        });
      } else if (state !== QUOTED) {
        this.#open = undefined;
        this.#onRecord({ line: open.line, text: open.lines.join('\n') });
      } else {
        open.state = state;
        if (open.lines.length >= this.#maxLines) this.#unclosed();
      }
      return;
    }
    if (!line.includes('"')) {
      this.#onRecord({ line: number, text: line });
      return;
    }
    const state = scan(line, this.#delimiter, FIELD_START);
    if (typeof state === 'object') {
      this.#onMalformed({
        line: number,
        text: line,
        reason: `invalid quote at column ${state.invalidAt}: a closing quote must be followed by "${this.#delimiter}" or the end of the line`,
      });
    } else if (state === QUOTED) {
      this.#open = { line: number, lines: [line], state };
    } else {
      this.#onRecord({ line: number, text: line });
    }
  }

  /** The opening quote never closed: reject its line and read the lines after it afresh. */
  #unclosed(): void {
    const open = this.#open;
    if (!open) return;
    this.#open = undefined;
    const [first = '', ...rest] = open.lines;
    this.#onMalformed({
      line: open.line,
      text: first,
      reason: 'unclosed quote: a quoted field is never closed',
    });
    rest.forEach((line, index) => {
      this.#handle(line, open.line + 1 + index);
    });
  }
}
