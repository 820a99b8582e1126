// The CDK app: `pnpm --filter @tq/infra cdk synth` (offline), `cdk deploy TqCore`, then each app's stack.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildRepositorySystem } from '../src/system.js';

const app = new App();
// cdk-nag's AwsSolutions pack: a finding fails the synth, with the report naming rule and resource.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }));
// Environment-agnostic unless the CLI knows the account (cdk deploy with credentials): synth needs no AWS.
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;
// The project's worker apps and tasks: the repository's tq.config.ts, as every tq tool reads it.
buildRepositorySystem(app, account && region ? { env: { account, region } } : {});
