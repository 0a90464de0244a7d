import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { formatBytes } from '@shared/format';
import { AppError, fileError, systemErrorCode } from '../lib/errors';

/**
 * Reads and checks a GGUF file's header before node-llama-cpp sees it.
 *
 * llama.cpp trusts the header: some malformed files (a missing `feed_forward_length` or
 * `attention.head_count`, a zero dimension) hit a native assertion that aborts the whole process,
 * not a JavaScript error. So ComfyDesk reads the header itself — magic, version, sane counts, the
 * metadata every architecture needs, every tensor's type and extent — and refuses a file that would
 * not load cleanly, with a message that says what is wrong with it.
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

/** Limits past which a header is considered damaged rather than merely large. */
const MAX_TENSORS = 1_000_000;
const MAX_KEYS = 100_000;
const MAX_ARRAY_ITEMS = 50_000_000;
const MAX_STRING_BYTES = 64 * 1024 * 1024;
const MAX_DIMS = 4;
const DEFAULT_ALIGNMENT = 32;

/** GGUF metadata value types. */
const ValueType = {
  Uint8: 0,
  Int8: 1,
  Uint16: 2,
  Int16: 3,
  Uint32: 4,
  Int32: 5,
  Float32: 6,
  Bool: 7,
  String: 8,
  Array: 9,
  Uint64: 10,
  Int64: 11,
  Float64: 12,
} as const;

const FIXED_SIZES: Partial<Record<number, number>> = {
  [ValueType.Uint8]: 1,
  [ValueType.Int8]: 1,
  [ValueType.Uint16]: 2,
  [ValueType.Int16]: 2,
  [ValueType.Uint32]: 4,
  [ValueType.Int32]: 4,
  [ValueType.Float32]: 4,
  [ValueType.Bool]: 1,
  [ValueType.Uint64]: 8,
  [ValueType.Int64]: 8,
  [ValueType.Float64]: 8,
};

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

type Scalar = number | bigint | boolean | string;

/** Something is wrong with the bytes themselves; turned into a user-facing AppError by the caller. */
class HeaderProblem extends Error {}

/** Thrown when the file ends before the header does. */
class EndOfFile extends HeaderProblem {}

/** Sequential little-endian reads over a file through a sliding buffer (headers reach tens of MB). */
class Cursor {
  readonly #file: FileHandle;
  readonly size: number;
  #buffer = Buffer.alloc(0);
  #bufferStart = 0;
  position = 0;

  constructor(file: FileHandle, size: number) {
    this.#file = file;
    this.size = size;
  }

  async #ensure(length: number): Promise<void> {
    const offset = this.position - this.#bufferStart;
    if (offset + length <= this.#buffer.length) return;
    if (this.position + length > this.size) throw new EndOfFile('the file ends inside its header');
    const want = Math.max(length, 1 << 20);
    const buffer = Buffer.alloc(Math.min(want, this.size - this.position));
    const { bytesRead } = await this.#file.read(buffer, 0, buffer.length, this.position);
    if (bytesRead < length) throw new EndOfFile('the file ends inside its header');
    this.#buffer = buffer.subarray(0, bytesRead);
    this.#bufferStart = this.position;
  }

  async bytes(length: number): Promise<Buffer> {
    await this.#ensure(length);
    const offset = this.position - this.#bufferStart;
    this.position += length;
    return this.#buffer.subarray(offset, offset + length);
  }

  async skip(length: number): Promise<void> {
    if (this.position + length > this.size) throw new EndOfFile('the file ends inside its header');
    this.position += length;
  }

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  async u64(): Promise<number> {
    const value = (await this.bytes(8)).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw new HeaderProblem(`a count or size is impossibly large (${value})`);
    return Number(value);
  }

  async string(): Promise<string> {
    const length = await this.u64();
    if (length > MAX_STRING_BYTES) throw new HeaderProblem(`a text value claims ${length} bytes`);
    return (await this.bytes(length)).toString('utf8');
  }

  async skipString(): Promise<void> {
    const length = await this.u64();
    if (length > MAX_STRING_BYTES) throw new HeaderProblem(`a text value claims ${length} bytes`);
    await this.skip(length);
  }

  async scalar(type: number): Promise<Scalar> {
    switch (type) {
      case ValueType.Uint8:
        return (await this.bytes(1)).readUInt8(0);
      case ValueType.Int8:
        return (await this.bytes(1)).readInt8(0);
      case ValueType.Uint16:
        return (await this.bytes(2)).readUInt16LE(0);
      case ValueType.Int16:
        return (await this.bytes(2)).readInt16LE(0);
      case ValueType.Uint32:
        return this.u32();
      case ValueType.Int32:
        return (await this.bytes(4)).readInt32LE(0);
      case ValueType.Float32:
        return (await this.bytes(4)).readFloatLE(0);
      case ValueType.Bool:
        return (await this.bytes(1)).readUInt8(0) !== 0;
      case ValueType.String:
        return this.string();
      case ValueType.Uint64:
        return (await this.bytes(8)).readBigUInt64LE(0);
      case ValueType.Int64:
        return (await this.bytes(8)).readBigInt64LE(0);
      case ValueType.Float64:
        return (await this.bytes(8)).readDoubleLE(0);
      default:
        throw new HeaderProblem(`a metadata value has an unknown type (${type})`);
    }
  }
}

/** A metadata value as kept: scalars as read; arrays as their item type, length and (small ones) items. */
type Value = { kind: 'scalar'; value: Scalar } | { kind: 'array'; itemType: number; length: number; numbers: number[] };

async function readValue(cursor: Cursor, type: number): Promise<Value> {
  if (type !== ValueType.Array) return { kind: 'scalar', value: await cursor.scalar(type) };
  const itemType = await cursor.u32();
  const length = await cursor.u64();
  if (length > MAX_ARRAY_ITEMS) throw new HeaderProblem(`a list claims ${length} items`);
  if (itemType === ValueType.String) {
    for (let index = 0; index < length; index += 1) await cursor.skipString();
    return { kind: 'array', itemType, length, numbers: [] };
  }
  const size = FIXED_SIZES[itemType];
  if (size === undefined) throw new HeaderProblem(`a list has an unsupported item type (${itemType})`);
  // Per-layer hyper-parameters are short numeric lists; keep those, skip long ones (token types).
  if (length <= 1024 && itemType !== ValueType.Bool) {
    const numbers: number[] = [];
    for (let index = 0; index < length; index += 1) numbers.push(Number(await cursor.scalar(itemType)));
    return { kind: 'array', itemType, length, numbers };
  }
  await cursor.skip(length * size);
  return { kind: 'array', itemType, length, numbers: [] };
}

function asPositive(value: Value | undefined): number | undefined {
  if (!value) return undefined;
  if (value.kind === 'scalar') {
    const number = typeof value.value === 'bigint' ? Number(value.value) : value.value;
    return typeof number === 'number' && Number.isFinite(number) && number > 0 ? number : undefined;
  }
  // A per-layer list (e.g. feed_forward_length in some models) is fine if every layer has a size.
  return value.length > 0 && value.numbers.length === value.length && value.numbers.every((item) => item > 0)
    ? Math.max(...value.numbers)
    : undefined;
}

/** Reads the header of a GGUF file and checks it will load; throws AppError (`llm_model_missing`, `llm_model_invalid`, file errors). */
export async function inspectGguf(path: string): Promise<GgufSummary> {
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
  try {
    const stats = await file.stat();
    if (!stats.isFile()) throw invalid(path, 'it is not a file');
    return await readHeader(new Cursor(file, stats.size), path);
  } catch (error) {
    if (error instanceof EndOfFile)
      throw invalid(path, 'it is incomplete (the file ends inside its header), probably a download that stopped early');
    if (error instanceof HeaderProblem) throw invalid(path, `it is damaged: ${error.message}`);
    if (error instanceof AppError) throw error;
    throw fileError(error, 'read the model file', path);
  } finally {
    await file.close();
  }
}

async function readHeader(cursor: Cursor, path: string): Promise<GgufSummary> {
  if (cursor.size < 24) throw invalid(path, cursor.size === 0 ? 'it is empty' : 'it is too short to be a GGUF model');
  const magic = (await cursor.bytes(4)).toString('latin1');
  if (magic !== 'GGUF') throw invalid(path, 'it is not a GGUF model file');
  const version = await cursor.u32();
  // Version 1 used 32-bit counts and llama.cpp no longer reads it; a byte-swapped (big-endian) file shows a huge number here.
  if (version !== 2 && version !== 3)
    throw invalid(path, `it uses GGUF version ${version}, which this version of ComfyDesk cannot load`);
  const tensorCount = await cursor.u64();
  const keyCount = await cursor.u64();
  if (tensorCount === 0 || tensorCount > MAX_TENSORS)
    throw invalid(path, `it is damaged: it claims ${tensorCount} tensors`);
  if (keyCount > MAX_KEYS) throw invalid(path, `it is damaged: it claims ${keyCount} metadata entries`);

  const metadata = new Map<string, Value>();
  for (let index = 0; index < keyCount; index += 1) {
    const key = await cursor.string();
    const type = await cursor.u32();
    metadata.set(key, await readValue(cursor, type));
  }

  const text = (key: string): string | undefined => {
    const value = metadata.get(key);
    return value?.kind === 'scalar' && typeof value.value === 'string' && value.value.length > 0
      ? value.value
      : undefined;
  };
  const architecture = text('general.architecture');
  if (!architecture) throw missing(path, ['general.architecture']);

  const required = [
    'context_length',
    'embedding_length',
    'block_count',
    'feed_forward_length',
    'attention.head_count',
  ].map((name) => `${architecture}.${name}`);
  const absent = required.filter((key) => asPositive(metadata.get(key)) === undefined);
  const tokenizer = text('tokenizer.ggml.model');
  if (!tokenizer) absent.push('tokenizer.ggml.model');
  const tokens = metadata.get('tokenizer.ggml.tokens');
  if (tokens?.kind !== 'array' || tokens.itemType !== ValueType.String || tokens.length === 0)
    absent.push('tokenizer.ggml.tokens');
  if (tokenizer === 'gpt2') {
    const merges = metadata.get('tokenizer.ggml.merges');
    if (merges?.kind !== 'array' || merges.itemType !== ValueType.String) absent.push('tokenizer.ggml.merges');
  }
  if (absent.length > 0) throw missing(path, absent);

  const alignmentValue = metadata.get('general.alignment');
  const alignment = alignmentValue ? asPositive(alignmentValue) : DEFAULT_ALIGNMENT;
  if (alignment === undefined || !Number.isInteger(alignment) || (alignment & (alignment - 1)) !== 0)
    throw invalid(path, 'it is damaged: its alignment is not a power of two');

  let tensorBytesEnd = 0;
  for (let index = 0; index < tensorCount; index += 1) {
    const name = await cursor.string();
    const dimCount = await cursor.u32();
    if (dimCount === 0 || dimCount > MAX_DIMS)
      throw invalid(path, `it is damaged: tensor "${name}" has ${dimCount} dimensions`);
    let elements = 1;
    const dims: number[] = [];
    for (let dim = 0; dim < dimCount; dim += 1) {
      const size = await cursor.u64();
      if (size === 0) throw invalid(path, `it is damaged: tensor "${name}" has an empty dimension`);
      dims.push(size);
      elements *= size;
    }
    const type = await cursor.u32();
    const offset = await cursor.u64();
    const traits = GGML_TYPE_SIZES[type];
    if (!traits)
      throw invalid(path, `tensor "${name}" uses a number format (${type}) this version of ComfyDesk does not know`);
    const [blockSize, blockBytes] = traits;
    if (dims[0]! % blockSize !== 0)
      throw invalid(path, `it is damaged: tensor "${name}" does not fit its number format`);
    if (offset % alignment !== 0) throw invalid(path, `it is damaged: tensor "${name}" is misaligned`);
    if (!Number.isSafeInteger(elements)) throw invalid(path, `it is damaged: tensor "${name}" is impossibly large`);
    tensorBytesEnd = Math.max(tensorBytesEnd, offset + (elements / blockSize) * blockBytes);
  }
  const dataStart = Math.ceil(cursor.position / alignment) * alignment;
  const requiredBytes = dataStart + tensorBytesEnd;
  if (requiredBytes > cursor.size) {
    throw invalid(
      path,
      `it is incomplete: it is ${formatBytes(cursor.size)} but its tensors need ${formatBytes(requiredBytes)}, probably a download that stopped early`,
    );
  }

  return {
    version,
    architecture,
    name: text('general.name'),
    tensorCount,
    contextLength: asPositive(metadata.get(`${architecture}.context_length`))!,
    vocabularySize: tokens?.kind === 'array' ? tokens.length : 0,
    hasChatTemplate: text('tokenizer.chat_template') !== undefined,
    fileSizeBytes: cursor.size,
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
