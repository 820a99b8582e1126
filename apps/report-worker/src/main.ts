// The report worker as a program: environment in, running worker out (the README lists the variables).
import { generateReport } from '@tq/contracts';
import { createProducer } from '@tq/producer-sdk';
import { envNumbers, envString, runWorkerApp } from '@tq/worker';
import { REPORT_LIMITS } from './data.js';
import { createReportWorker } from './worker.js';

await runWorkerApp({
  name: 'report-worker',
  // Its defaults and idempotency guard (no second render, no second chained mail) come from the definition.
  task: generateReport,
  create: ({ s3, worker, onStopped }) => {
    // The chained send_email shows up by id (`sent`) before the email worker takes it.
    const producer = createProducer({ s3, status: worker.status !== undefined && worker.status !== false });
    onStopped(() => void producer.close());
    return createReportWorker({
      s3,
      producer,
      limits: envNumbers(process.env, REPORT_LIMITS),
      render: {
        locale: envString(process.env, 'REPORT_LOCALE', {
          default: 'en-US',
          pattern: /^[a-zA-Z]{2,3}(-[a-zA-Z0-9]+)*$/,
          describe: 'a BCP 47 locale such as en-GB',
        }),
        currency: envString(process.env, 'REPORT_CURRENCY', {
          default: 'USD',
          pattern: /^[A-Z]{3}$/,
          describe: 'an ISO 4217 code such as EUR',
        }),
      },
      worker,
    });
  },
});
