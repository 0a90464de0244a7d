import type { GenerationForm } from '@shared/contract/jobs';
import type { Parameter } from '@shared/domain/generation';
import type { Job } from '@shared/domain/job';
import type { WorkflowCard } from '@shared/domain/workflow';

/** The parts of the Generate page GenerateHarness can mount (`form`: the panel with the page's job attention beside it). */
export type View = 'panel' | 'current' | 'queue' | 'recent' | 'settings' | 'attention' | 'form';

export { job, progress } from '../../../support/jobs';
import { job, progress } from '../../../support/jobs';

/** A finished job of ours with one saved image. */
export function succeeded(id: string, overrides: Partial<Job> = {}): Job {
  return job(id, {
    status: 'succeeded',
    queuedAt: 1_700_000_000_100,
    startedAt: 1_700_000_001_000,
    finishedAt: 1_700_000_013_400,
    progress: progress(100, { step: 30, etaSeconds: 0 }),
    outputs: [
      {
        kind: 'image',
        nodeId: '9',
        filename: 'ComfyUI_00001_.png',
        subfolder: '',
        type: 'output',
        localPath: `2025-01-01/${id}.png`,
        mime: 'image/png',
        sizeBytes: 1234,
      },
    ],
    ...overrides,
  });
}

/** A library card for a ready text-to-image workflow on the local server. */
export function card(overrides: Partial<WorkflowCard> = {}): WorkflowCard {
  return {
    id: 'wf-t2i',
    root: '/library',
    path: 'Text to image.json',
    format: 'ui',
    name: 'Text to image',
    description: 'Makes an image from text.',
    category: 'Images',
    inputTypes: ['text'],
    outputTypes: ['image'],
    type: 't2i',
    models: [{ name: 'sd15.safetensors', folder: 'checkpoints' }],
    nodeCount: 7,
    thumbnail: null,
    fileSizeBytes: 100,
    modifiedMs: 1,
    error: null,
    compat: {
      status: 'ready',
      serverId: 'local',
      missing: [],
      missingSizeBytes: null,
      isMissingSizeComplete: true,
      updates: [],
      unknownNodeTypes: [],
      estimate: null,
    },
    ...overrides,
  };
}

/** One parameter of a generated form. */
export function parameter(
  id: string,
  overrides: Partial<Parameter> & Pick<Parameter, 'kind' | 'group' | 'constraints'>,
): Parameter {
  return {
    id,
    label: id,
    section: 'KSampler',
    targets: [{ nodeId: '3', inputName: id }],
    value: undefined,
    ...overrides,
  };
}

/** A form with a control of every kind the panel draws. */
export function fullForm(overrides: Partial<GenerationForm> = {}): GenerationForm {
  return {
    workflowId: 'wf-t2i',
    serverId: 'local',
    format: 'ui',
    warnings: [],
    missingNodeTypes: [],
    parameters: [
      parameter('prompt', {
        kind: 'prompt',
        group: 'prompt',
        label: 'Prompt',
        section: 'Positive',
        value: 'a red fox',
        constraints: { type: 'STRING', multiline: true },
      }),
      parameter('negative_prompt', {
        kind: 'negative_prompt',
        group: 'prompt',
        label: 'Negative prompt',
        section: 'Negative',
        value: 'blurry',
        constraints: { type: 'STRING', multiline: true },
      }),
      parameter('image', {
        kind: 'image',
        group: 'inputs',
        label: 'Start image',
        section: 'Load Image',
        value: 'example.png',
        constraints: { type: 'COMBO', media: 'image', options: ['example.png', 'cat.png'], folder: 'input' },
      }),
      parameter('width', {
        kind: 'width',
        group: 'size',
        label: 'Width',
        section: 'Empty Latent Image',
        value: 512,
        constraints: { type: 'INT', min: 16, max: 16384, step: 8 },
      }),
      parameter('height', {
        kind: 'height',
        group: 'size',
        label: 'Height',
        section: 'Empty Latent Image',
        value: 512,
        constraints: { type: 'INT', min: 16, max: 16384, step: 8 },
      }),
      parameter('seed', {
        kind: 'seed',
        group: 'sampling',
        label: 'Seed',
        value: 42,
        seedControl: 'randomize',
        constraints: { type: 'INT', min: 0, max: Number.MAX_SAFE_INTEGER },
      }),
      parameter('steps', {
        kind: 'steps',
        group: 'sampling',
        label: 'Steps',
        value: 20,
        constraints: { type: 'INT', min: 1, max: 10000 },
      }),
      parameter('cfg', {
        kind: 'cfg',
        group: 'sampling',
        label: 'CFG',
        value: 8,
        constraints: { type: 'FLOAT', min: 0, max: 100, step: 0.1, round: 0.01 },
      }),
      parameter('sampler', {
        kind: 'sampler',
        group: 'sampling',
        label: 'Sampler',
        value: 'euler',
        constraints: { type: 'COMBO', options: ['euler', 'euler_ancestral', 'dpmpp_2m'] },
      }),
      parameter('model', {
        kind: 'model',
        group: 'models',
        label: 'Checkpoint',
        section: 'Load Checkpoint',
        value: 'sd15.safetensors',
        constraints: { type: 'COMBO', options: ['sd15.safetensors', 'sdxl.safetensors'], folder: 'checkpoints' },
      }),
      parameter('9.filename_prefix', {
        kind: 'text',
        group: 'advanced',
        label: 'filename_prefix',
        section: 'Save Image',
        value: 'ComfyUI',
        constraints: { type: 'STRING' },
      }),
      parameter('12.tiled', {
        kind: 'boolean',
        group: 'advanced',
        label: 'tiled',
        section: 'VAE Decode',
        value: false,
        constraints: { type: 'BOOLEAN' },
      }),
      parameter('13.notes', {
        kind: 'text',
        group: 'advanced',
        label: 'notes',
        section: 'Notes',
        value: 'first line',
        constraints: { type: 'STRING', multiline: true },
      }),
    ],
    ...overrides,
  };
}
