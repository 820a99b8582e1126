import { ConfigError } from '@tq/contracts';
import { envNumber, envString } from '@tq/worker';

/** What the email worker reads from the environment (the README has the table). */
export interface EmailConfig {
  smtpUrl: string;
  from: string;
  messageIdDomain: string;
  poolSize: number;
  ratePerSecond: number;
  maxAttachmentBytes: number;
}

const ADDRESS = /<?([^\s<>@]+@([^\s<>@]+))>?\s*$/;

/** Reads and checks `SMTP_URL`, `EMAIL_FROM`, `EMAIL_MESSAGE_ID_DOMAIN`, `SMTP_POOL_SIZE`, `SMTP_RATE_LIMIT`, `EMAIL_MAX_ATTACHMENT_BYTES`. */
export function readEmailConfig(env: Readonly<Record<string, string | undefined>> = process.env): EmailConfig {
  const smtpUrl = envString(env, 'SMTP_URL', {
    pattern: /^smtps?:\/\/[^\s]+$/,
    describe: 'the SMTP server as smtp://[user:pass@]host:port (smtps:// for implicit TLS)',
  });
  const from = envString(env, 'EMAIL_FROM', {
    pattern: /^[^\r\n]{0,256}<?[^\s<>@]+@[^\s<>@]+>?$/,
    describe: 'the default sender, e.g. "Acme <no-reply@acme.example>"',
  });
  const domain = ADDRESS.exec(from)?.[2];
  if (!domain) throw new ConfigError(`EMAIL_FROM is "${from}", must contain an email address`);
  return {
    smtpUrl,
    from,
    messageIdDomain: envString(env, 'EMAIL_MESSAGE_ID_DOMAIN', {
      default: domain,
      pattern: /^[a-zA-Z0-9.-]+$/,
      describe: 'a domain name',
    }),
    poolSize: envNumber(env, 'SMTP_POOL_SIZE', { default: 5, min: 1, max: 100 }),
    ratePerSecond: envNumber(env, 'SMTP_RATE_LIMIT', { default: 0, min: 0, max: 10_000 }),
    maxAttachmentBytes: envNumber(env, 'EMAIL_MAX_ATTACHMENT_BYTES', {
      default: 25 * 1024 * 1024,
      min: 0,
      max: 1024 * 1024 * 1024,
    }),
  };
}
