import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { MAX_MESSAGE_CHARS, type TaskProgress } from './types.js';

/** The sort key of a task's progress item: one per task, replaced by each report. */
export const PROGRESS_STEP = '~progress';

/**
 * Writes a task's progress (`context.progress` in a handler): one item per task that each report
 * replaces, beside its steps. Progress is not a state: a report never changes what the task's
 * steps say, and a lost one only shows an older number.
 */
export async function putProgress(
  dynamodb: DynamoDBClient,
  tableName: string,
  id: string,
  progress: TaskProgress,
  ttlSeconds: number,
): Promise<void> {
  const data: TaskProgress = { fraction: progress.fraction, at: progress.at };
  if (progress.note !== undefined) data.note = progress.note.slice(0, MAX_MESSAGE_CHARS);
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        id: { S: id },
        step: { S: PROGRESS_STEP },
        data: { S: JSON.stringify(data) },
        expiresAt: { N: String(Math.floor(Date.now() / 1000) + ttlSeconds) },
      },
    }),
  );
}
