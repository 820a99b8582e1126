import {
  CONFIG_FILE_NAMES,
  findConfigFile,
  loadProject as loadProjectFile,
  type Project,
  ProjectConfigError,
} from '@tq/worker';
import { UsageError } from './errors.js';

export { CONFIG_FILE_NAMES, findConfigFile, type Project };

/** Thrown when the project's configuration cannot be found or loaded: one line naming the file and the fix. */
export class ConfigFileError extends UsageError {
  override readonly name = 'ConfigFileError';
}

let override: string | undefined;

/** Sets the config file given on the command line (`--config`), which beats `TQ_CONFIG` and the search. */
export function setConfigFile(file: string | undefined): void {
  override = file;
}

/**
 * Loads the project's configuration (`@tq/worker`'s `loadProject`): the file given with
 * `--config`, else `TQ_CONFIG`, else the first `tq.config.ts` from the working directory upward.
 * Throws `ConfigFileError` (exit 2) naming the file and the fix.
 */
export async function loadProject(options: { file?: string; cwd?: string } = {}): Promise<Project> {
  try {
    return await loadProjectFile({ ...options, file: options.file ?? override });
  } catch (error) {
    if (error instanceof ProjectConfigError) throw new ConfigFileError(error.message, { cause: error.cause });
    throw error;
  }
}
