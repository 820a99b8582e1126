// This repository's project file: its four task types and the worker apps that consume them.
// Every tq tool reads it (found from the working directory upward); see "Your own tasks" in the README.
// `pnpm tq add task <name>` adds a task type here, with its file and its worker's folder.
import { cleanupData, defineConfig, generateReport, processImage, sendEmail } from '@tq/contracts';

export default defineConfig({
  tasks: [sendEmail, processImage, cleanupData, generateReport],
  workers: {
    'email-worker': {
      task: 'send_email',
      main: 'apps/email-worker/src/main.ts',
      // Deployed: the sender, and the SMTP server's URL from the secret <prefix>/smtp-url (set it
      // after the first deploy). Locally, tq up gives it its own SMTP server.
      environment: { EMAIL_FROM: 'tq <no-reply@example.com>' },
      secrets: { SMTP_URL: 'smtp-url' },
    },
    'image-worker': { task: 'process_image', main: 'apps/image-worker/src/main.ts' },
    'cleanup-worker': { task: 'cleanup_data', main: 'apps/cleanup-worker/src/main.ts' },
    'report-worker': { task: 'generate_report', main: 'apps/report-worker/src/main.ts' },
  },
});
