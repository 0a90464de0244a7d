import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { WorkflowRecord } from '@shared/domain/workflow';
import { ComfyClient } from '../../../../../src/main/core/comfy/comfy-client';
import { GenerationService } from '../../../../../src/main/core/generation/generation-service';
import { StagedInputs } from '../../../../../src/main/core/generation/staging';
import { singleServerDirectory } from '../../../../../src/main/core/jobs/server-directory';
import { silentLogger } from '../../../../../src/main/core/lib/logger';
import { recordedObjectInfo } from '../../../../support/corpus';
import { RECORDED_OBJECT_INFO } from '../../../../support/paths';
import { textToImage } from '../../../../support/workflow-builder';

const objectInfoText = readFileSync(RECORDED_OBJECT_INFO, 'utf8');

/** A GenerationService on one server whose /object_info is the recording, with a library of one workflow. */
function setup(workflow: unknown, options: { random?: () => number } = {}) {
  let objectInfoReads = 0;
  const client = new ComfyClient({
    baseUrl: 'http://comfy.test',
    log: silentLogger,
    fetch: async () => {
      objectInfoReads += 1;
      return new Response(objectInfoText, { headers: { 'content-type': 'application/json' } });
    },
  });
  const record: WorkflowRecord = {
    id: 'wf-1',
    root: '/workflows',
    path: 't2i.json',
    format: 'ui',
    name: 'Text to image',
    description: '',
    category: '',
    inputTypes: ['text'],
    outputTypes: ['image'],
    type: 't2i',
    models: [],
    nodeCount: 7,
    nodeTypes: [],
    thumbnail: null,
    fileSizeBytes: 2000,
    modifiedMs: 1000,
    error: null,
  };
  const files: string[] = [];
  const generation = new GenerationService({
    servers: singleServerDirectory('local', client, 'Local'),
    findWorkflow: (id) => (id === record.id ? record : undefined),
    staged: new StagedInputs({ dir: '/nonexistent' }),
    random: options.random,
    readWorkflow: async (path) => {
      files.push(path);
      return structuredClone(workflow);
    },
  });
  return { generation, client, record, files, objectInfoReads: () => objectInfoReads };
}

describe('GenerationService keeps the converted workflow', () => {
  test('queueing the workflow the form showed reuses its conversion: the file is read and converted once', async () => {
    const { generation, files, objectInfoReads } = setup(textToImage(recordedObjectInfo()).workflow());
    const form = await generation.load({ workflowId: 'wf-1' }, 'local');
    const queued = await generation.load({ workflowId: 'wf-1' }, 'local');
    expect(queued.conversion).toBe(form.conversion);
    expect(queued.parameters).toBe(form.parameters);
    expect(files).toEqual(['/workflows/t2i.json']);
    expect(objectInfoReads()).toBe(1);
    const [run] = generation.prepare(queued, 'local', { values: { seed: 7 }, count: 1 });
    expect(run!.outputClassTypes.has('SaveImage')).toBe(true);
    expect(run!.outputClassTypes.has('KSampler')).toBe(false);
  });

  test("a changed file, or the server's refreshed node definitions, are converted again", async () => {
    const { generation, client, record, files } = setup(textToImage(recordedObjectInfo()).workflow());
    const first = await generation.load({ workflowId: 'wf-1' }, 'local');
    Object.assign(record, { modifiedMs: 2000 });
    const edited = await generation.load({ workflowId: 'wf-1' }, 'local');
    expect(edited.conversion).not.toBe(first.conversion);
    expect(files).toHaveLength(2);
    await client.getObjectInfo({ refresh: true });
    const refreshed = await generation.load({ workflowId: 'wf-1' }, 'local');
    expect(refreshed.conversion).not.toBe(edited.conversion);
    expect(refreshed.objectInfo).not.toBe(edited.objectInfo);
  });

  test('a dynamic prompt is picked anew for every queueing, as in ComfyUI, without reading the file again', async () => {
    const picks = [0, 0.99];
    const workflow = textToImage(recordedObjectInfo(), { positive: 'a {red|blue} cat' }).workflow();
    const { generation, files } = setup(workflow, { random: () => picks.shift() ?? 0 });
    const form = await generation.load({ workflowId: 'wf-1' }, 'local');
    const queued = await generation.load({ workflowId: 'wf-1' }, 'local');
    expect(form.conversion.prompt['6']!.inputs.text).toBe('a red cat');
    expect(queued.conversion.prompt['6']!.inputs.text).toBe('a blue cat');
    expect(files).toHaveLength(1);
  });
});
