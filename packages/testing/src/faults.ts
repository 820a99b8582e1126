/** An AWS-shaped failure: what the SDK throws when a service answers with an error. */
export interface AwsFault {
  /** The error code as the SDK names it, e.g. `AccessDenied`, `InternalError`, `SlowDown`. */
  name: string;
  /** The HTTP status of the answer. */
  status: number;
  message?: string;
}

/** The part of an AWS SDK v3 client's middleware stack `injectAwsFault` uses. */
interface MiddlewareStack {
  add(
    middleware: (
      next: (args: unknown) => Promise<unknown>,
      context: { commandName?: string },
    ) => (args: unknown) => Promise<unknown>,
    options: { step: 'initialize'; name: string },
  ): void;
}

/**
 * Makes a client fail the commands `when` picks with an AWS-shaped error (`name`, `$fault`,
 * `$metadata.httpStatusCode`), before any request is sent. For the failures a local endpoint
 * cannot give on demand, such as IAM denials and server faults; say so in the test's name.
 */
export function injectAwsFault(
  client: { middlewareStack: object },
  when: (commandName: string) => boolean,
  fault: AwsFault,
): void {
  (client.middlewareStack as MiddlewareStack).add(
    (next, context) => async (args) => {
      if (!when(context.commandName ?? '')) return next(args);
      throw Object.assign(new Error(fault.message ?? `${fault.name} (injected)`), {
        name: fault.name,
        $fault: fault.status >= 500 ? 'server' : 'client',
        $metadata: { httpStatusCode: fault.status },
      });
    },
    { step: 'initialize', name: `tqInjectedFault${fault.name}` },
  );
}
