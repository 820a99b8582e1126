import { type Static, Type } from '@sinclair/typebox';
import { Mailbox, S3Uri, SingleLine } from '../common.js';

const Recipients = (max: number) => Type.Array(Mailbox, { minItems: 1, maxItems: max });

/** An attachment read from S3 when the mail is sent. */
export const EmailAttachment = Type.Object(
  {
    filename: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000-\\u001f\\u007f/\\\\]+$' }),
    source: S3Uri,
    contentType: Type.Optional(
      Type.String({ maxLength: 255, pattern: '^[a-zA-Z0-9!#$&^_.+-]+/[a-zA-Z0-9!#$&^_.+-]+$' }),
    ),
    /** Makes the attachment inline, referenced from HTML as `cid:<contentId>`. */
    contentId: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9._@-]+$' })),
  },
  { additionalProperties: false },
);

/**
 * `send_email` v1: one email. At least one of `text` and `html`. `from` defaults to the
 * worker's configured sender.
 */
export const SendEmailV1 = Type.Object(
  {
    to: Recipients(50),
    cc: Type.Optional(Recipients(50)),
    bcc: Type.Optional(Recipients(50)),
    from: Type.Optional(Mailbox),
    replyTo: Type.Optional(Mailbox),
    subject: SingleLine({ maxLength: 998 }),
    text: Type.Optional(Type.String({ minLength: 1, maxLength: 500_000 })),
    html: Type.Optional(Type.String({ minLength: 1, maxLength: 500_000 })),
    attachments: Type.Optional(Type.Array(EmailAttachment, { maxItems: 20 })),
  },
  {
    additionalProperties: false,
    title: 'send_email payload, version 1',
    // Checked by the refinement below for TypeBox; kept here so other validators enforce it too.
    anyOf: [{ required: ['text'] }, { required: ['html'] }],
  },
);
export type SendEmailV1 = Static<typeof SendEmailV1>;
