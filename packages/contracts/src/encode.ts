// Per UTF-16 code unit: JSON.stringify escapes lone surrogates itself, so every surrogate left in
// its output is half of a character outside the BMP, and escaping both halves writes that character.
const UNSAFE = /[\uD800-\uDFFF\uFFFE\uFFFF]/;
const UNSAFE_ALL = /[\uD800-\uDFFF\uFFFE\uFFFF]/g;

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
  const json = JSON.stringify(value);
  // Testing first: most bodies need nothing, and a test is cheaper than a replace.
  return UNSAFE.test(json) ? json.replace(UNSAFE_ALL, toEscapes) : json;
}
