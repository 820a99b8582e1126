import { defineConfig, defineTask, Type } from '@tq/contracts';
import { describe, expect, it } from 'vitest';
import { readRelayConfig } from '../src/config.js';

describe("readRelayConfig: the relay on a project's own tasks", () => {
  const greet = defineTask({
    name: 'greet_user',
    description: 'Greets a user',
    versions: { 1: { schema: Type.Object({ name: Type.String() }) } },
  });
  const project = defineConfig({ tasks: [greet], workers: { greeter: { task: 'greet_user', main: 'g.ts' } } });

  it("relays a task of the project's config, with the project's registry for its worker", () => {
    const config = readRelayConfig(project.registry, { TQ_TASK: 'greet_user', RELAY_URL: 'http://127.0.0.1:8000/' });
    expect(config).toMatchObject({ task: 'greet_user', mode: 'post', payload: 'envelope', concurrency: 10 });
    expect(config.registry.names()).toEqual(['greet_user']);
  });

  it('refuses a task the project does not define, naming the ones it does', () => {
    expect(() =>
      readRelayConfig(project.registry, { TQ_TASK: 'send_email', RELAY_URL: 'http://127.0.0.1:8000/' }),
    ).toThrow(/TQ_TASK.*one of greet_user/);
  });
});
