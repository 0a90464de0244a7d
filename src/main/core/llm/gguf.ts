import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import type { GgufFileInfo } from 'node-llama-cpp';
import { formatBytes } from '@shared/format';
import { AppError, fileError, systemErrorCode } from '../lib/errors';

/**
 * Checks a GGUF file's header before llama.cpp sees it. The header is read by node-llama-cpp's
 * `readGgufFileInfo`; what stays here are the checks for what llama.cpp does not survive or does not
 * explain: some malformed files (a missing `feed_forward_length` or `attention.head_count`, a zero
 * dimension) hit a native assertion that aborts the whole process, and a download cut short only
 * gets a generic load error. So a file is refused, with a message that says what is wrong with it,
 * when it lacks the metadata its architecture needs or its tensors do not fit in it.
 * Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md
 */

/** What the header says, as far as ComfyDesk cares. */
export interface GgufSummary {
  /** GGUF format version (2 or 3). */
  version: number;
  /** `general.architecture`, e.g. `llama`, `qwen2`, `phi3`. */
  architecture: string;
  /** `general.name` when present. */
  name: string | undefined;
  tensorCount: number;
  /** `<arch>.context_length`: the context the model was trained with, in tokens. */
  contextLength: number;
  /** Number of tokens in the vocabulary. */
  vocabularySize: number;
  /** Whether the file carries a chat template (node-llama-cpp then picks the matching chat format). */
  hasChatTemplate: boolean;
  fileSizeBytes: number;
  /** Bytes the tensors need: the file must be at least this long. */
  requiredBytes: number;
}

/** The fixed start of every GGUF file: magic, version, tensor count, metadata count. */
const PREAMBLE_BYTES = 24;
/** The least a metadata entry takes (an empty key, its type, a one-byte value). */
const MIN_ENTRY_BYTES = 8 + 4 + 1;
/** The least a tensor's description takes (an empty name, one dimension, type, offset). */
const MIN_TENSOR_BYTES = 8 + 4 + 8 + 4 + 8;
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;

/**
 * ggml tensor types → [elements per block, bytes per block], from ggml's type traits. A type not
 * listed here is one this reader cannot size, so the file is refused rather than guessed at.
 */
const GGML_TYPE_SIZES: Partial<Record<number, readonly [number, number]>> = {
  0: [1, 4], // F32
  1: [1, 2], // F16
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  9: [32, 36], // Q8_1
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  15: [256, 292], // Q8_K
  16: [256, 66], // IQ2_XXS
  17: [256, 74], // IQ2_XS
  18: [256, 98], // IQ3_XXS
  19: [256, 50], // IQ1_S
  20: [32, 18], // IQ4_NL
  21: [256, 110], // IQ3_S
  22: [256, 82], // IQ2_S
  23: [256, 136], // IQ4_XS
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  29: [256, 56], // IQ1_M
  30: [1, 2], // BF16
  34: [256, 54], // TQ1_0
  35: [256, 66], // TQ2_0
  39: [32, 17], // MXFP4
};

/** How node-llama-cpp reads a header; tests and the worker pass the library's own. */
export type ReadGgufInfo = (path: string, options: { signal?: AbortSignal }) => Promise<GgufFileInfo>;

const readWithNodeLlamaCpp: ReadGgufInfo = async (path, { signal }) => {
  const { readGgufFileInfo } = await import('node-llama-cpp');
  // One file at a time (llama.cpp loads the other parts of a split model itself), no console noise.
  return readGgufFileInfo(path, { sourceType: 'filesystem', spliceSplitFiles: false, logWarnings: false, signal });
};

/** Reads the header of a GGUF file and checks it will load; throws AppError (`llm_model_missing`, `llm_model_invalid`, file errors). */
export async function inspectGguf(
  path: string,
  options: { signal?: AbortSignal; read?: ReadGgufInfo } = {},
): Promise<GgufSummary> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    if (systemErrorCode(error) === 'ENOENT') {
      throw new AppError(
        'llm_model_missing',
        `The model file ${path} does not exist. Download the model again, or choose another file in Settings › AI prompt enhancement.`,
        {
          cause: error,
          details: { path },
        },
      );
    }
    throw fileError(error, 'read the model file', path);
  }
  let size: number;
  try {
    const stats = await file.stat();
    if (!stats.isFile()) throw invalid(path, 'it is not a file');
    size = stats.size;
    await checkPreamble(file, size, path);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw fileError(error, 'read the model file', path);
  } finally {
    await file.close();
  }
  let info: GgufFileInfo;
  try {
    info = await (options.read ?? readWithNodeLlamaCpp)(path, { signal: options.signal });
  } catch (error) {
    options.signal?.throwIfAborted();
    throw headerError(error, path);
  }
  return checkInfo(info, size, path);
}

/**
 * The fixed 24 bytes, checked before the library reads on: it trusts the counts, and a damaged or
 * byte-swapped count would have it read (and keep) billions of entries.
 */
async function checkPreamble(file: FileHandle, size: number, path: string): Promise<void> {
  if (size < PREAMBLE_BYTES) throw invalid(path, size === 0 ? 'it is empty' : 'it is too short to be a GGUF model');
  const bytes = Buffer.alloc(PREAMBLE_BYTES);
  await file.read(bytes, 0, PREAMBLE_BYTES, 0);
  if (bytes.toString('latin1', 0, 4) !== 'GGUF') throw invalid(path, 'it is not a GGUF model file');
  const version = bytes.readUInt32LE(4);
  // Version 1 used 32-bit counts and llama.cpp no longer reads it; a byte-swapped (big-endian) file shows a huge number here.
  if (version !== 2 && version !== 3)
    throw invalid(path, `it uses GGUF version ${version}, which this version of ComfyDesk cannot load`);
  const tensorCount = bytes.readBigUInt64LE(8);
  const entryCount = bytes.readBigUInt64LE(16);
  for (const count of [tensorCount, entryCount])
    if (count > BigInt(Number.MAX_SAFE_INTEGER))
      throw invalid(path, `it is damaged: a count is impossibly large (${count})`);
  const room = size - PREAMBLE_BYTES;
  if (tensorCount === 0n || Number(tensorCount) * MIN_TENSOR_BYTES > room)
    throw invalid(path, `it is damaged: it claims ${tensorCount} tensors`);
  if (Number(entryCount) * MIN_ENTRY_BYTES > room)
    throw invalid(path, `it is damaged: it claims ${entryCount} metadata entries`);
}

function headerError(error: unknown, path: string): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const valueType = /value type "(\d+)"/.exec(message)?.[1];
  if (valueType !== undefined)
    return invalid(path, `it is damaged: a metadata value has an unknown type (${valueType})`);
  const code = systemErrorCode(error);
  if (code !== undefined) return fileError(error, 'read the model file', path);
  return new AppError(
    'llm_model_invalid',
    `${basename(path)} cannot be used: its header could not be read (${message}). Nothing was loaded; download the model again or choose another GGUF file.`,
    { cause: error, details: { path, problem: message } },
  );
}

/** A metadata value by its dotted key, wherever the library's nesting put it. */
function lookup(node: unknown, parts: readonly string[]): unknown {
  if (parts.length === 0) return node;
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  for (let take = 1; take <= parts.length; take += 1) {
    const key = parts.slice(0, take).join('.');
    if (!Object.hasOwn(node, key)) continue;
    const found = lookup((node as Record<string, unknown>)[key], parts.slice(take));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A positive size: a number, or a per-layer list where every layer has one (e.g. feed_forward_length). */
function asPositive(value: unknown): number | undefined {
  const number = typeof value === 'bigint' ? Number(value) : value;
  if (typeof number === 'number') return Number.isFinite(number) && number > 0 ? number : undefined;
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const sizes = value.map(asPositive);
  return sizes.every((size) => size !== undefined) ? Math.max(...sizes) : undefined;
}

function checkInfo(info: GgufFileInfo, size: number, path: string): GgufSummary {
  const metadata: unknown = info.metadata;
  const value = (key: string) => lookup(metadata, key.split('.'));
  const text = (key: string): string | undefined => {
    const found = value(key);
    return typeof found === 'string' && found.length > 0 ? found : undefined;
  };
  // The library reads past the end of a short file as zeros, so a header that ends beyond the file is cut.
  if (info.infoEndOffset === undefined || info.infoEndOffset > size)
    throw invalid(path, 'it is incomplete (the file ends inside its header), probably a download that stopped early');

  const architecture = text('general.architecture');
  if (!architecture) throw missing(path, ['general.architecture']);
  const required = [
    'context_length',
    'embedding_length',
    'block_count',
    'feed_forward_length',
    'attention.head_count',
  ].map((name) => `${architecture}.${name}`);
  const absent = required.filter((key) => asPositive(value(key)) === undefined);
  const tokenizer = text('tokenizer.ggml.model');
  if (!tokenizer) absent.push('tokenizer.ggml.model');
  const tokens = value('tokenizer.ggml.tokens');
  if (!Array.isArray(tokens) || tokens.length === 0 || typeof tokens[0] !== 'string')
    absent.push('tokenizer.ggml.tokens');
  if (tokenizer === 'gpt2') {
    const merges = value('tokenizer.ggml.merges');
    if (!Array.isArray(merges)) absent.push('tokenizer.ggml.merges');
  }
  if (absent.length > 0) throw missing(path, absent);

  const alignmentValue = value('general.alignment');
  const alignment = alignmentValue === undefined ? DEFAULT_ALIGNMENT : asPositive(alignmentValue);
  if (alignment === undefined || !Number.isInteger(alignment) || (alignment & (alignment - 1)) !== 0)
    throw invalid(path, 'it is damaged: its alignment is not a power of two');

  let tensorBytesEnd = 0;
  for (const tensor of info.tensorInfo ?? []) {
    const { name } = tensor;
    const dims = tensor.dimensions.map(Number);
    if (dims.length === 0 || dims.length > MAX_DIMS)
      throw invalid(path, `it is damaged: tensor "${name}" has ${dims.length} dimensions`);
    if (dims.some((dim) => dim === 0)) throw invalid(path, `it is damaged: tensor "${name}" has an empty dimension`);
    const elements = dims.reduce((product, dim) => product * dim, 1);
    const traits = GGML_TYPE_SIZES[tensor.ggmlType];
    if (!traits)
      throw invalid(
        path,
        `tensor "${name}" uses a number format (${tensor.ggmlType}) this version of ComfyDesk does not know`,
      );
    const [blockSize, blockBytes] = traits;
    if (dims[0]! % blockSize !== 0)
      throw invalid(path, `it is damaged: tensor "${name}" does not fit its number format`);
    const offset = Number(tensor.offset);
    if (offset % alignment !== 0) throw invalid(path, `it is damaged: tensor "${name}" is misaligned`);
    if (!Number.isSafeInteger(elements) || !Number.isSafeInteger(offset))
      throw invalid(path, `it is damaged: tensor "${name}" is impossibly large`);
    tensorBytesEnd = Math.max(tensorBytesEnd, offset + (elements / blockSize) * blockBytes);
  }
  const requiredBytes = info.infoEndOffset + tensorBytesEnd;
  if (requiredBytes > size) {
    throw invalid(
      path,
      `it is incomplete: it is ${formatBytes(size)} but its tensors need ${formatBytes(requiredBytes)}, probably a download that stopped early`,
    );
  }

  return {
    version: info.version,
    architecture,
    name: text('general.name'),
    tensorCount: Number(info.tensorCount),
    contextLength: asPositive(value(`${architecture}.context_length`))!,
    vocabularySize: Array.isArray(tokens) ? tokens.length : 0,
    hasChatTemplate: text('tokenizer.chat_template') !== undefined,
    fileSizeBytes: size,
    requiredBytes,
  };
}

function invalid(path: string, problem: string): AppError {
  return new AppError(
    'llm_model_invalid',
    `${basename(path)} cannot be used: ${problem}. Nothing was loaded; download the model again or choose another GGUF file.`,
    {
      details: { path, problem },
    },
  );
}

function missing(path: string, keys: string[]): AppError {
  return new AppError(
    'llm_model_invalid',
    `${basename(path)} cannot be used: its header lacks ${keys.join(', ')}, which loading needs. Nothing was loaded; choose another GGUF file (a chat/instruct model converted by a recent llama.cpp).`,
    { details: { path, missing: keys } },
  );
}
