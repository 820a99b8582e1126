const UNSAFE = /[\u{10000}-\u{10FFFF}\uFFFE\uFFFF]/gu;

function toEscapes(character: string): string {
  let out = '';
  for (let i = 0; i < character.length; i += 1) out += `\\u${character.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/**
 * JSON for a queue message body. Characters SQS refuses (U+FFFE, U+FFFF) or some
 * SQS-compatible endpoints mishandle (everything outside the Basic Multilingual Plane, such as
 * emoji) are written as `\u` escapes: every endpoint accepts the body, and every JSON parser
 * reads back exactly the same text.
 */
export function encodeMessageBody(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE, toEscapes);
}
