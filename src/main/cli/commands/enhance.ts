import { isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { EnhanceFinished } from '@shared/contract/llm';
import { ENHANCE_STYLES, EnhanceStyle } from '@shared/domain/llm';
import { ApiError } from '../contract-client';
import type { CommandContext } from '../command';
import { ExitCode, stoppedCode, writeJson, writeLine, writeText, type CliIo } from '../io';
import { openSession } from '../session';

interface EnhanceFlags {
  style?: EnhanceStyle;
  model?: string;
  dataDir?: string;
  json?: boolean;
  verbose?: boolean;
}

function parseStyle(value: string): EnhanceStyle {
  const parsed = EnhanceStyle.safeParse(value.toLowerCase());
  if (!parsed.success) throw new InvalidArgumentError(`must be one of ${EnhanceStyle.options.join(', ')}.`);
  return parsed.data;
}

/** `comfydesk enhance TEXT`: one enhancement, streamed, through the same core as the app. */
export function registerEnhance(program: Command, context: CommandContext): void {
  program
    .command('enhance')
    .description('rewrite a prompt with the local LLM (or the OpenAI-compatible server chosen in settings)')
    .argument('<text>', 'the prompt to enhance')
    .option(
      '-s, --style <style>',
      `${ENHANCE_STYLES.map((style) => `${style.value} (${style.description})`).join(', ')}; default: the one in settings`,
      parseStyle,
    )
    .option(
      '-m, --model <id|path>',
      'a catalog model id or a .gguf file for this run (uses the local model even when settings choose a server)',
    )
    .option('--data-dir <dir>', "folder for settings and models (default: the desktop app's)")
    .option('--json', 'print JSON lines: each token as it comes, then the result')
    .option('-v, --verbose', 'log debug details to stderr')
    .action((text: string, flags: EnhanceFlags) =>
      context.run(flags.json, () => enhance(context.io, text, flags, context.llmWorkerPath)),
    );
}

async function enhance(
  io: CliIo,
  text: string,
  flags: EnhanceFlags,
  llmWorkerPath: string | undefined,
): Promise<number> {
  const session = await openSession(io, {
    command: 'enhance',
    llmWorkerPath,
    dataDir: flags.dataDir && resolve(io.cwd, flags.dataDir),
    verbose: flags.verbose,
    isQueueHeld: true,
  });
  const { api } = session;
  try {
    // A model given as a path is relative to where the command runs; a catalog id stays as it is.
    const model =
      flags.model &&
      (flags.model.includes('/') || flags.model.includes('\\') || flags.model.toLowerCase().endsWith('.gguf')) &&
      !isAbsolute(flags.model)
        ? resolve(io.cwd, flags.model)
        : flags.model;
    const live = !flags.json && io.stderr.isTTY === true;
    let id: string | undefined;
    let outcome: ((finished: EnhanceFinished) => void) | undefined;
    const done = new Promise<EnhanceFinished>((resolvePromise) => (outcome = resolvePromise));
    const offToken = api.on('llm.token', (token) => {
      if (token.id !== id) return;
      if (flags.json) writeJson(io, { type: 'token', text: token.text });
      else if (live) writeText(io.stderr, token.text);
    });
    const offStatus = api.on('llm.statusChanged', (status) => {
      if (live && status.activity === 'loading')
        writeLine(io.stderr, `Loading ${status.model === model || !model ? status.model : model}…`);
    });
    // The service starts work only after replying with the id, so no event for it can come earlier.
    const offFinished = api.on('llm.finished', (finished) => {
      if (finished.id === id) outcome?.(finished);
    });
    try {
      ({ id } = await api.call('llm.enhance', {
        prompt: text,
        ...(flags.style ? { style: flags.style } : {}),
        ...(model ? { model } : {}),
      }));
      const result = await Promise.race([done, io.interrupted.then((reason) => ({ stopped: reason }))]);
      if ('stopped' in result) {
        await api.call('llm.cancel', { id });
        await done;
        if (live) writeLine(io.stderr);
        return stoppedCode(result.stopped);
      }
      if (live) writeLine(io.stderr);
      if (!result.ok) throw new ApiError(result.error);
      const kept = result.result.isSubjectKept;
      const prompt = kept ? result.result.text : result.result.original;
      if (flags.json) {
        writeJson(io, { type: 'result', prompt, ...result.result });
      } else {
        if (!kept) {
          writeLine(
            io.stderr,
            `comfydesk: the enhanced prompt lost ${result.result.missingWords.map((word) => `"${word}"`).join(', ')}, so your original prompt is kept. The model suggested: ${result.result.text}`,
          );
        }
        writeLine(io.stdout, prompt);
      }
      return ExitCode.ok;
    } finally {
      offToken();
      offStatus();
      offFinished();
    }
  } finally {
    await session.close();
  }
}
