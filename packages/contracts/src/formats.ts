import { FormatRegistry } from '@sinclair/typebox';

/**
 * The string formats our schemas use. TypeBox's compiler rejects values whose format is not
 * registered, so we register these; the definitions follow ajv-formats' "full" mode so the
 * generated JSON Schema means the same thing to ajv as it does to us. Every schema that relies
 * on a format also carries a `pattern`, because many validators (Python's jsonschema by
 * default) treat `format` as an annotation only.
 */
export const EMAIL_PATTERN =
  "^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?\\.)+[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$";
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const DATE_TIME_PATTERN =
  '^\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:[Zz]|[+-]\\d{2}:\\d{2})$';

const email = new RegExp(EMAIL_PATTERN);
const uuid = new RegExp(UUID_PATTERN);
const dateTime = new RegExp(DATE_TIME_PATTERN);
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isDateTime(value: string): boolean {
  if (!dateTime.test(value)) return false;
  const year = Number(value.slice(0, 4));
  const month = Number(value.slice(5, 7));
  const day = Number(value.slice(8, 10));
  const hour = Number(value.slice(11, 13));
  const minute = Number(value.slice(14, 16));
  const second = Number(value.slice(17, 19));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const maxDay = month === 2 && leap ? 29 : (DAYS[month] ?? 0);
  return day >= 1 && day <= maxDay && hour <= 23 && minute <= 59 && second <= 60;
}

const formats: Record<string, (value: string) => boolean> = {
  email: (value) => email.test(value),
  uuid: (value) => uuid.test(value),
  'date-time': isDateTime,
};

/** Registers the formats above with TypeBox unless the application registered its own. */
export function registerFormats(): void {
  for (const [name, check] of Object.entries(formats)) {
    if (!FormatRegistry.Has(name)) FormatRegistry.Set(name, check);
  }
}
