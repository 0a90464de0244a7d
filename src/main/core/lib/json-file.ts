import { readFile } from 'node:fs/promises';
import type { ErrorCode } from '@shared/contract/errors';
import { MAX_JSON_DEPTH, jsonTextDepth, tooDeeplyNestedMessage } from '@shared/json-depth';
import { AppError, fileError } from './errors';

/**
 * Reads a JSON file a person pointed at (a workflow, saved node definitions). A byte order mark
 * is skipped; a missing or unreadable file, text that is not JSON and JSON nested too deeply for
 * anything to walk it each get a message that says what to do. `invalidCode` is the error code for
 * "not usable JSON" (e.g. `workflow_invalid`).
 */
export async function readJsonFile(path: string, invalidCode: ErrorCode): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw fileError(error, 'read', path);
  }
  if (jsonTextDepth(text) > MAX_JSON_DEPTH)
    throw new AppError(invalidCode, tooDeeplyNestedMessage(path), { details: { path } });
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (error) {
    throw new AppError(
      invalidCode,
      `${path} is not valid JSON (${error instanceof Error ? error.message : String(error)}). Save it again from ComfyUI.`,
      { cause: error, details: { path } },
    );
  }
}
