import { S3Client } from '@aws-sdk/client-s3';
import { exampleSalesReport, type TaskPayload } from '@tq/contracts';
import { createReportWorker } from '@tq/report-worker';
import { renderReport } from '@tq/report-worker/render';

import { appScenario, drain, enqueue, type QueueConfig, workerOptions } from './app-common.js';

const reportPayload = (bucket: string, i: number): TaskPayload<'generate_report'> =>
  exampleSalesReport({
    title: `Monthly sales ${i}`,
    subtitle: 'Benchmark report',
    rows: 2000,
    destination: `s3://${bucket}/reports/${i}.pdf`,
  });

export const report = appScenario<QueueConfig>('report', {
  async prepare(context, { queueUrl, dlqUrl, bucket }) {
    const count = context.quick ? 3 : 8;
    await enqueue(
      context.clientConfig,
      queueUrl,
      'generate_report',
      Array.from({ length: count }, (_, i) => reportPayload(bucket, i)),
    );
    return { clientConfig: context.clientConfig, queueUrl, dlqUrl, bucket, count };
  },
  async runWorker(config) {
    const s3 = new S3Client(config.clientConfig);
    const worker = createReportWorker({
      s3,
      producer: {
        send: () => Promise.reject(new Error('no email in this benchmark')),
      },
      worker: workerOptions(config),
    });
    const { seconds, results } = await drain(worker, config.count);
    const pages = results.reduce((sum: number, r) => sum + (r as { pages: number }).pages, 0);
    return { value: pages / seconds, extra: { pages } };
  },
  async runCeiling(config) {
    let pages = 0;
    const started = performance.now();
    for (let i = 0; i < config.count; i += 1) {
      const payload = reportPayload(config.bucket, i);
      const rows = (async function* () {
        let n = 0;
        for (const values of payload.rows ?? []) yield { number: ++n, values };
      })();
      pages += (await renderReport(payload, rows)).pages;
    }
    return { value: pages / ((performance.now() - started) / 1000), extra: { pages } };
  },
});
