import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';
import { inspectGguf } from '../../../../../src/main/core/llm/gguf';
import { tempDir } from '../../../../support/core';
import { tinyGgufBytes } from '../../../../fixtures/tiny-gguf';

// The header is read by node-llama-cpp, a large module: load it once before the tests, with time to spare.
beforeAll(async () => {
  await import('node-llama-cpp');
}, 60_000);

const dirs: Array<{ remove: () => void }> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function fileWith(content: Buffer | string, name = 'model.gguf'): string {
  const dir = tempDir('comfydesk-gguf-');
  dirs.push(dir);
  const path = join(dir.path, name);
  writeFileSync(path, content);
  return path;
}

/** The tiny model with its header edited: `edit` gets the bytes and may change them in place. */
function edited(edit: (bytes: Buffer) => void): Buffer {
  const bytes = Buffer.from(tinyGgufBytes());
  edit(bytes);
  return bytes;
}

async function problemOf(path: string): Promise<{ code: string; userMessage: string }> {
  return inspectGguf(path).then(
    () => ({ code: 'none', userMessage: '' }),
    (error: { code: string; userMessage: string }) => ({ code: error.code, userMessage: error.userMessage }),
  );
}

describe('GGUF header check', () => {
  test('a valid model is read: architecture, counts, context, vocabulary, chat template', async () => {
    const bytes = tinyGgufBytes();
    const summary = await inspectGguf(fileWith(bytes));
    expect(summary).toMatchObject({
      version: 3,
      architecture: 'llama',
      name: 'ComfyDesk tiny test model',
      tensorCount: 21,
      contextLength: 4096,
      hasChatTemplate: true,
      fileSizeBytes: bytes.length,
    });
    expect(summary.vocabularySize).toBeGreaterThan(256);
    expect(summary.requiredBytes).toBe(bytes.length);
  });

  test('a missing file is llm_model_missing and names the path', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const path = join(dir.path, 'gone.gguf');
    expect(await problemOf(path)).toEqual({ code: 'llm_model_missing', userMessage: expect.stringContaining(path) });
  });

  test('a folder, an empty file and a text file are refused as not a model', async () => {
    const dir = tempDir();
    dirs.push(dir);
    mkdirSync(join(dir.path, 'folder.gguf'));
    expect((await problemOf(join(dir.path, 'folder.gguf'))).userMessage).toMatch(/not a file/);
    expect((await problemOf(fileWith(''))).userMessage).toMatch(/it is empty/);
    expect(await problemOf(fileWith('{"this": "is json, not a model", "padding": "................"}'))).toEqual({
      code: 'llm_model_invalid',
      userMessage: expect.stringMatching(
        /model\.gguf cannot be used: it is not a GGUF model file\. Nothing was loaded/,
      ),
    });
  });

  test('a file cut inside its header, or inside its tensors, is reported as incomplete', async () => {
    const bytes = tinyGgufBytes();
    expect((await problemOf(fileWith(bytes.subarray(0, 5000)))).userMessage).toMatch(
      /incomplete \(the file ends inside its header\)/,
    );
    expect((await problemOf(fileWith(bytes.subarray(0, bytes.length - 1)))).userMessage).toMatch(
      /incomplete: it is .* but its tensors need/,
    );
  });

  test('metadata llama.cpp needs (and would abort without) must be present', async () => {
    for (const key of [
      'llama.feed_forward_length',
      'llama.attention.head_count',
      'llama.block_count',
      'tokenizer.ggml.tokens',
      'tokenizer.ggml.merges',
      'general.architecture',
    ]) {
      const problem = await problemOf(fileWith(tinyGgufBytes({ omitKeys: [key] })));
      expect(problem.code, key).toBe('llm_model_invalid');
      expect(problem.userMessage, key).toContain(`lacks ${key}`);
    }
  });

  test('an unknown version, impossible counts and a zero dimension are refused before anything loads', async () => {
    expect((await problemOf(fileWith(edited((bytes) => bytes.writeUInt32LE(1, 4))))).userMessage).toMatch(
      /GGUF version 1/,
    );
    expect((await problemOf(fileWith(edited((bytes) => bytes.writeUInt32LE(0x03000000, 4))))).userMessage).toMatch(
      /GGUF version 50331648/,
    );
    expect((await problemOf(fileWith(edited((bytes) => bytes.writeBigUInt64LE(10n ** 9n, 8))))).userMessage).toMatch(
      /claims 1000000000 tensors/,
    );
    expect((await problemOf(fileWith(edited((bytes) => bytes.writeBigUInt64LE(0n, 8))))).userMessage).toMatch(
      /claims 0 tensors/,
    );
    expect((await problemOf(fileWith(edited((bytes) => bytes.writeBigUInt64LE(2n ** 60n, 16))))).userMessage).toMatch(
      /impossibly large/,
    );
    // The first tensor's first dimension sits right after its name in the tensor table.
    const zeroDim = edited((bytes) => {
      const name = bytes.indexOf('token_embd.weight');
      bytes.writeBigUInt64LE(0n, name + 'token_embd.weight'.length + 4);
    });
    expect((await problemOf(fileWith(zeroDim))).userMessage).toMatch(
      /tensor "token_embd.weight" has an empty dimension/,
    );
  });

  test('a damaged value type or an unknown tensor format is refused', async () => {
    const badType = edited((bytes) => {
      const key = bytes.indexOf('general.architecture');
      bytes.writeUInt32LE(99, key + 'general.architecture'.length);
    });
    expect((await problemOf(fileWith(badType))).userMessage).toMatch(/unknown type \(99\)/);
    const badFormat = edited((bytes) => {
      const name = bytes.indexOf('output_norm.weight');
      // name, n_dims (u32), one dim (u64), then the type.
      bytes.writeUInt32LE(77, name + 'output_norm.weight'.length + 4 + 8);
    });
    expect((await problemOf(fileWith(badFormat))).userMessage).toMatch(/number format \(77\)/);
  });
});
