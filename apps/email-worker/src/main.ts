// The email worker as a program: environment in, running worker out (the README lists the variables).
import { sendEmail } from '@tq/contracts';
import { runWorkerApp } from '@tq/worker';
import { readEmailConfig } from './config.js';
import { createEmailWorker } from './worker.js';

await runWorkerApp({
  name: 'email-worker',
  // Concurrency, visibility and the idempotency guard (one mail per task) come from the definition.
  task: sendEmail,
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
