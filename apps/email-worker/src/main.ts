// The email worker as a program: environment in, running worker out (the README lists the variables).
import { runWorkerApp } from '@tq/worker';
import { readEmailConfig } from './config.js';
import { createEmailWorker } from './worker.js';

await runWorkerApp({
  name: 'email-worker',
  // A duplicate delivery must not send a second mail: effects are claimed in the idempotency table.
  idempotency: true,
  defaults: { concurrency: 10, visibilityTimeoutSeconds: 60 },
  create: ({ s3, worker }) => {
    const config = readEmailConfig();
    return createEmailWorker({
      s3,
      smtp: config.smtpUrl,
      from: config.from,
      messageIdDomain: config.messageIdDomain,
      poolSize: config.poolSize,
      ratePerSecond: config.ratePerSecond,
      maxAttachmentBytes: config.maxAttachmentBytes,
      worker,
    });
  },
});
