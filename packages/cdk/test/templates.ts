import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** The account and region the tests' stacks are in. */
export const ENV = { account: '123456789012', region: 'eu-west-1' };

/** A stack built by `build`, and its template. */
export function synth(build: (stack: Stack) => void): { stack: Stack; template: Template } {
  const stack = new Stack(new App(), 'Tq', { env: ENV });
  build(stack);
  return { stack, template: Template.fromStack(stack) };
}

export type Resource = { Properties: Record<string, unknown> };
export type GetAtt = { 'Fn::GetAtt': [string, string] };

/** Every queue of a template by its name, with the attributes SQS would report (as strings). */
export function queuesOf(template: Template) {
  const resources = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
  const names = new Map(Object.entries(resources).map(([id, r]) => [id, r.Properties.QueueName as string]));
  const queues = new Map<string, { attributes: Record<string, string>; dlq?: string; maxReceiveCount?: number }>();
  for (const resource of Object.values(resources)) {
    const p = resource.Properties;
    const attributes: Record<string, string> = {};
    for (const [cfn, sqs] of [
      ['VisibilityTimeout', 'VisibilityTimeout'],
      ['MessageRetentionPeriod', 'MessageRetentionPeriod'],
      ['DelaySeconds', 'DelaySeconds'],
      ['ReceiveMessageWaitTimeSeconds', 'ReceiveMessageWaitTimeSeconds'],
      ['FifoQueue', 'FifoQueue'],
    ] as const) {
      if (p[cfn] !== undefined) attributes[sqs] = String(p[cfn]);
    }
    const redrive = p.RedrivePolicy as { deadLetterTargetArn: GetAtt; maxReceiveCount: number } | undefined;
    queues.set(p.QueueName as string, {
      attributes,
      ...(redrive
        ? { dlq: names.get(redrive.deadLetterTargetArn['Fn::GetAtt'][0]), maxReceiveCount: redrive.maxReceiveCount }
        : {}),
    });
  }
  return { queues, names };
}

/** Every subscription of a template: the queue it delivers to, its filter and raw delivery. */
export function subscriptionsOf(template: Template, names: Map<string, string>) {
  const resources = template.findResources('AWS::SNS::Subscription') as Record<string, Resource>;
  return Object.values(resources)
    .map(({ Properties: p }) => ({
      queue: names.get((p.Endpoint as GetAtt)['Fn::GetAtt'][0]) as string,
      filter: p.FilterPolicy ?? null,
      raw: p.RawMessageDelivery === true,
      protocol: p.Protocol,
    }))
    .sort((a, b) => a.queue.localeCompare(b.queue));
}
