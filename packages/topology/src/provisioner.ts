import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DesiredTopology } from './desired.js';
import { Reconciliation } from './reconcile.js';

/** One difference between the desired and the actual state, and what `apply` does about it. */
export type Change =
  | { action: 'create'; resource: 'bucket' | 'topic' | 'queue' | 'subscription'; name: string }
  | {
      action: 'update';
      resource: 'queue' | 'subscription';
      name: string;
      attribute: string;
      from: string | undefined;
      to: string;
    }
  | { action: 'delete'; resource: 'queue' | 'subscription'; name: string };

/** What `createProvisioner` takes. */
export interface ProvisionerOptions {
  sqs: SQSClient;
  sns: SNSClient;
  s3: S3Client;
  topology: DesiredTopology;
}

/** Options of `plan` and `apply`. */
export interface ReconcileOptions {
  /** Also delete queues with the prefix and topic subscriptions that the desired state does not name. */
  prune?: boolean;
}

/** Compares and converges the desired topology with what exists. */
export interface Provisioner {
  /** Lists the changes `apply` would make. Reads only. */
  plan(options?: ReconcileOptions): Promise<Change[]>;
  /** Creates and updates (and with `prune`, deletes) until the actual state is the desired one; returns what it changed. Idempotent. */
  apply(options?: ReconcileOptions): Promise<Change[]>;
}

/** Human-readable one-line form of a change, as `tq provision` prints it. */
export function describeChange(change: Change): string {
  switch (change.action) {
    case 'create':
      return `+ create ${change.resource} ${change.name}`;
    case 'update':
      return `~ update ${change.resource} ${change.name}: ${change.attribute} ${change.from ?? '(unset)'} -> ${change.to}`;
    case 'delete':
      return `- delete ${change.resource} ${change.name}`;
  }
}

/**
 * Creates a provisioner for a desired topology. Order of `apply`: bucket, topic, dead-letter
 * queues, task queues (redrive policy, and the queue policy with an `aws:SourceArn` condition
 * that lets only this topic deliver), subscriptions (raw delivery, `task` filter policy).
 * Nothing is deleted unless `prune` is asked for. Throws `TopologyError` when AWS refuses a
 * call (`AWS_ERROR`) or an existing queue differs in FIFO-ness (`IMMUTABLE_ATTRIBUTE`).
 */
export function createProvisioner(options: ProvisionerOptions): Provisioner {
  return {
    plan: (reconcile = {}) => new Reconciliation(options, false).run(reconcile),
    apply: (reconcile = {}) => new Reconciliation(options, true).run(reconcile),
  };
}
