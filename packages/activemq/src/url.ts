import { ConfigError } from '@tq/contracts';

/** Where a broker's STOMP connector is, and how to log in. */
export interface BrokerAddress {
  host: string;
  port: number;
  /** STOMP over TLS (`stomp+ssl://`). */
  tls: boolean;
  login: string | undefined;
  passcode: string | undefined;
  /** The URL with any password masked, for logs and errors. */
  display: string;
}

const PROTOCOLS: Record<string, { tls: boolean; port: number }> = {
  'stomp:': { tls: false, port: 61613 },
  'stomp+ssl:': { tls: true, port: 61612 },
  'stomp+tls:': { tls: true, port: 61612 },
};

/**
 * Reads a broker URL: `stomp://[user[:password]@]host[:port]` (default port 61613) or
 * `stomp+ssl://…` (TLS, default port 61612), as `TQ_ACTIVEMQ_URL` takes it. Throws `ConfigError`
 * naming `name` for anything else.
 */
export function parseBrokerUrl(url: string, name = 'TQ_ACTIVEMQ_URL'): BrokerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`${name} is "${url}", must be a URL such as stomp://127.0.0.1:61613`);
  }
  const protocol = PROTOCOLS[parsed.protocol];
  if (!protocol || !parsed.hostname || (parsed.pathname !== '' && parsed.pathname !== '/')) {
    throw new ConfigError(
      `${name} is "${maskPassword(parsed)}", must be stomp://host:port or stomp+ssl://host:port (ActiveMQ's STOMP connector)`,
    );
  }
  const port = parsed.port ? Number(parsed.port) : protocol.port;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port,
    tls: protocol.tls,
    login: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    passcode: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    display: maskPassword(parsed),
  };
}

function maskPassword(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return copy.href.replace(/\/$/, '');
}
