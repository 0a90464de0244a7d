import { DEFAULT_LLM_MODEL } from '@shared/domain/llm';

/** A model ComfyDesk offers to download. */
export interface CatalogModel {
  id: string;
  name: string;
  description: string;
  /** Name of the file in the models folder. */
  fileName: string;
  /** Download address, pinned to a repository revision so the published checksum stays valid. */
  url: string;
  /** Exact size in bytes, as published. */
  sizeBytes: number;
  /** The published SHA-256 (Hugging Face's Git LFS object id). */
  sha256: string;
  /** About how much memory it takes loaded with ComfyDesk's 2048-token context (weights + KV cache + buffers). */
  memoryBytes: number;
  license: string;
}

const GB = 1_000_000_000;

/**
 * Small instruct models, Q4 GGUF, that rewrite a prompt in seconds on a CPU. Each URL points at a
 * fixed revision: the SHA-256 published for that revision is checked after download, so a file
 * changed on the server can never pass as the one listed here.
 */
export const LLM_CATALOG: readonly CatalogModel[] = [
  {
    id: DEFAULT_LLM_MODEL,
    name: 'Qwen 2.5 1.5B Instruct (Q4_K_M)',
    description: 'Smallest and fastest; good English prompts on any recent laptop.',
    fileName: 'qwen2.5-1.5b-instruct-q4_k_m.gguf',
    url: 'https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct-GGUF/resolve/91cad51170dc346986eccefdc2dd33a9da36ead9/qwen2.5-1.5b-instruct-q4_k_m.gguf',
    sizeBytes: 1_117_320_736,
    sha256: '6a1a2eb6d15622bf3c96857206351ba97e1af16c30d7a74ee38970e434e9407e',
    memoryBytes: 1.5 * GB,
    license: 'Apache-2.0',
  },
  {
    id: 'phi-3-mini-4k-instruct',
    name: 'Phi-3 Mini 4k Instruct (Q4)',
    description: 'Follows instructions closely; the largest of the three in memory.',
    fileName: 'Phi-3-mini-4k-instruct-q4.gguf',
    url: 'https://huggingface.co/microsoft/Phi-3-mini-4k-instruct-gguf/resolve/a64113399c2f6b8ad3e11c394733a2ddadaa7f33/Phi-3-mini-4k-instruct-q4.gguf',
    sizeBytes: 2_393_231_072,
    sha256: '8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef',
    memoryBytes: 3.4 * GB,
    license: 'MIT',
  },
  {
    id: 'llama-3.2-3b-instruct',
    name: 'Llama 3.2 3B Instruct (Q4_K_M)',
    description: 'The most descriptive writer of the three; needs a bit more time per prompt.',
    fileName: 'Llama-3.2-3B-Instruct-Q4_K_M.gguf',
    url: 'https://huggingface.co/bartowski/Llama-3.2-3B-Instruct-GGUF/resolve/c346bfc2029e79ba6d7edf026cf01fe44242db0d/Llama-3.2-3B-Instruct-Q4_K_M.gguf',
    sizeBytes: 2_019_377_696,
    sha256: '6c1a2b41161032677be168d354123594c0e6e67d2b9227c84f296ad037c728ff',
    memoryBytes: 2.6 * GB,
    license: 'Llama 3.2 Community License',
  },
];
