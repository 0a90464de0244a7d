import { resolve } from 'node:path';
import { type Command } from 'commander';
import type { ConversionWarning, Parameter, ParameterGroup, ParameterValues } from '@shared/domain/generation';
import { ComfyClient } from '../../core/comfy/comfy-client';
import { parseObjectInfo, type ObjectInfo } from '../../core/comfy/object-info';
import { silentLogger } from '../../core/lib/logger';
import {
  assertNoMissingNodes,
  convertWorkflow,
  describeMissingNodes,
} from '../../core/generation/convert/convert-workflow';
import { detectParameters } from '../../core/generation/parameters/detect-parameters';
import { applyParameterValues, assertValidParameterValues } from '../../core/generation/parameters/parameter-values';
import { AppError } from '../../core/lib/errors';
import { readJsonFile } from '../../core/lib/json-file';
import { parsePositiveInt, type CommandContext } from '../command';
import { CliError, ExitCode, writeJson, writeLine, type CliIo } from '../io';
import { collectAssignments, parseSetValues, refusedValuesError } from '../parameter-flags';

/**
 * Where `--server` gets `/object_info` from: the ComfyUI client, or a stand-in in tests. It resolves
 * to the node definitions or throws an AppError a person can act on.
 */
export type ObjectInfoSource = (serverUrl: string, options: { timeoutMs: number }) => Promise<unknown>;

/** How long `--server` waits for `/object_info` (big servers list thousands of nodes). @default 30000 ms */
export const DEFAULT_SERVER_TIMEOUT_MS = 30_000;

interface ConvertFlags {
  objectInfo?: string;
  server?: string;
  timeout: number;
  set: string[];
  params?: boolean;
  json?: boolean;
  verbose?: boolean;
}

/** Registers `comfydesk convert` with the given object_info source. */
export function createConvertRegistration(deps: {
  fetchObjectInfo: ObjectInfoSource;
}): (program: Command, context: CommandContext) => void {
  return (program, context) => {
    program
      .command('convert')
      .description(
        'convert a ComfyUI workflow (UI or API format) into the API prompt ComfyUI runs, or list its parameters',
      )
      .argument('<file>', 'the workflow JSON file (as saved by ComfyUI, an API prompt, or a RunPod request)')
      .option(
        '--object-info <file>',
        'node definitions saved from the target server (GET /object_info); conversion depends on them',
      )
      .option('--server <url>', 'read node definitions from this ComfyUI instead (e.g. http://127.0.0.1:8188)')
      .option(
        '--timeout <ms>',
        'how long to wait for --server to answer, in milliseconds',
        parsePositiveInt,
        DEFAULT_SERVER_TIMEOUT_MS,
      )
      .option(
        '--set <name=value>',
        'set a parameter before printing, by its id (prompt, seed, steps, 3.cfg…); repeatable',
        collectAssignments,
        [],
      )
      .option('--params', 'print the detected parameters (ids, values, limits) instead of the prompt')
      .option(
        '--json',
        'print one JSON document: {prompt, warnings, missingNodeTypes} or, with --params, {parameters, warnings}',
      )
      .option('-v, --verbose', 'also print informational notes about the conversion on stderr')
      .action((file: string, flags: ConvertFlags) =>
        context.run(flags.json, () => convert(context.io, file, flags, deps)),
      );
  };
}

/** The real source: ComfyDesk's ComfyUI client (the same requests, deadlines and error wording as the app). */
export const registerConvert = createConvertRegistration({
  fetchObjectInfo: async (serverUrl, options) => {
    const client = new ComfyClient({
      baseUrl: serverUrl,
      log: silentLogger,
      timeoutMs: options.timeoutMs,
      objectInfoTimeoutMs: options.timeoutMs,
    });
    return (await client.getObjectInfo()).objectInfo;
  },
});

async function loadObjectInfo(
  io: CliIo,
  flags: ConvertFlags,
  deps: { fetchObjectInfo: ObjectInfoSource },
): Promise<ObjectInfo> {
  if (flags.objectInfo && flags.server)
    throw new CliError('Use --object-info or --server, not both.', { exitCode: ExitCode.usage, code: 'invalid_input' });
  let raw: unknown;
  if (flags.objectInfo) raw = await readJsonFile(resolve(io.cwd, flags.objectInfo), 'object_info_invalid');
  else if (flags.server) {
    let url: URL;
    try {
      url = new URL(flags.server);
    } catch {
      throw new CliError(`--server must be a URL such as http://127.0.0.1:8188 (got "${flags.server}").`, {
        exitCode: ExitCode.usage,
        code: 'invalid_input',
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new CliError('--server must be an http:// or https:// URL.', {
        exitCode: ExitCode.usage,
        code: 'invalid_input',
      });
    raw = await deps.fetchObjectInfo(flags.server, { timeoutMs: flags.timeout });
  } else {
    throw new CliError("convert needs the server's node definitions: pass --object-info FILE or --server URL.", {
      exitCode: ExitCode.usage,
      code: 'invalid_input',
    });
  }
  try {
    return parseObjectInfo(raw).objectInfo;
  } catch (error) {
    throw new AppError(
      'object_info_invalid',
      'The node definitions are not an object_info document (a JSON object of node types). Save GET /object_info from the server again.',
      { cause: error },
    );
  }
}

/** `--set name=value`, typed by the parameter it names (numbers, booleans, text as written). */
async function convert(
  io: CliIo,
  file: string,
  flags: ConvertFlags,
  deps: { fetchObjectInfo: ObjectInfoSource },
): Promise<number> {
  const workflow = await readJsonFile(resolve(io.cwd, file), 'workflow_invalid');
  const objectInfo = await loadObjectInfo(io, flags, deps);
  const conversion = convertWorkflow(workflow, { objectInfo });
  const parameters = detectParameters(conversion, objectInfo);
  const values = parseSetValues(flags.set, parameters);
  try {
    assertValidParameterValues(parameters, values);
  } catch (error) {
    throw refusedValuesError(error, `comfydesk convert ${file} --params`) ?? error;
  }
  const { prompt } = applyParameterValues(conversion.prompt, parameters, values);
  const shown = conversion.warnings.filter((warning) => flags.verbose || warning.severity === 'warning');

  if (flags.params) {
    if (flags.json)
      writeJson(io, {
        parameters: parameters.map((parameter) =>
          Object.hasOwn(values, parameter.id) ? { ...parameter, value: values[parameter.id] } : parameter,
        ),
        warnings: conversion.warnings,
        missingNodeTypes: conversion.missingNodeTypes,
      });
    else {
      writeWarnings(io, shown);
      if (conversion.missingNodeTypes.length > 0)
        writeLine(io.stderr, `warning: ${describeMissingNodes(conversion.missingNodeTypes)}`);
      writeParameters(io, parameters, values);
    }
    return ExitCode.ok;
  }
  // Nothing that cannot run is printed as runnable: missing node types are an error here.
  assertNoMissingNodes(conversion);
  if (flags.json)
    writeJson(io, {
      format: conversion.format,
      prompt,
      warnings: conversion.warnings,
      missingNodeTypes: conversion.missingNodeTypes,
    });
  else {
    writeWarnings(io, shown);
    io.stdout.write(`${JSON.stringify(prompt, null, 2)}\n`);
  }
  return ExitCode.ok;
}

function writeWarnings(io: CliIo, warnings: readonly ConversionWarning[]): void {
  for (const warning of warnings) writeLine(io.stderr, `${warning.severity}: ${warning.message}`);
}

const GROUP_TITLES: Record<ParameterGroup, string> = {
  prompt: 'Prompt',
  inputs: 'Inputs',
  size: 'Size',
  sampling: 'Sampling',
  video: 'Video',
  models: 'Models',
  exposed: 'Exposed by subgraphs',
  advanced: 'Advanced',
};

function summarize(parameter: Parameter): string {
  const { constraints } = parameter;
  const parts: string[] = [constraints.type.toLowerCase()];
  if (constraints.min !== undefined || constraints.max !== undefined)
    parts.push(`${constraints.min ?? '…'}–${constraints.max ?? '…'}`);
  if (constraints.media) parts.push(`${constraints.media} file`);
  else if (constraints.options) parts.push(`${constraints.options.length} choices`);
  if (parameter.seedControl) parts.push(parameter.seedControl);
  return parts.join(', ');
}

function writeParameters(io: CliIo, parameters: readonly Parameter[], values: ParameterValues): void {
  const idWidth = Math.min(28, Math.max(...parameters.map((parameter) => parameter.id.length), 2));
  const labelWidth = Math.min(28, Math.max(...parameters.map((parameter) => parameter.label.length), 5));
  let group: ParameterGroup | undefined;
  let section: string | undefined;
  for (const parameter of parameters) {
    if (parameter.group !== group) {
      group = parameter.group;
      section = undefined;
      writeLine(io.stdout, `${GROUP_TITLES[group]}:`);
    }
    if ((group === 'advanced' || group === 'exposed') && parameter.section !== section) {
      section = parameter.section;
      writeLine(io.stdout, `  ${section}`);
    }
    const value = Object.hasOwn(values, parameter.id) ? values[parameter.id] : parameter.value;
    let shown = JSON.stringify(value) ?? '';
    if (shown.length > 60) shown = `${shown.slice(0, 57)}…"`;
    const indent = group === 'advanced' || group === 'exposed' ? '    ' : '  ';
    writeLine(
      io.stdout,
      `${indent}${parameter.id.padEnd(idWidth)}  ${parameter.label.padEnd(labelWidth)}  ${shown}  (${summarize(parameter)})`,
    );
  }
}
