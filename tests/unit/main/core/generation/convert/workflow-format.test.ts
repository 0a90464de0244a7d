import { describe, expect, test } from 'vitest';
import { convertWorkflow } from '../../../../../../src/main/core/generation/convert/convert-workflow';
import { detectWorkflowFormat } from '../../../../../../src/main/core/generation/convert/workflow-format';
import { AppError } from '../../../../../../src/main/core/lib/errors';
import { analyzeWorkflow } from '../../../../../../src/main/core/workflows/analyze';
import { recordedObjectInfo } from '../../../../../support/corpus';
import { textToImage } from '../../../../../support/workflow-builder';

const objectInfo = recordedObjectInfo();
const apiPrompt = {
  '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd15.safetensors' } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] }, _meta: { title: 'Positive' } },
};

describe('workflow format detection', () => {
  test('a graph with a nodes array is a UI workflow; a dict of class_type nodes is an API prompt', () => {
    expect(detectWorkflowFormat(textToImage(objectInfo).workflow()).format).toBe('ui');
    expect(detectWorkflowFormat(apiPrompt)).toEqual({ format: 'api', prompt: apiPrompt });
  });

  test('a RunPod request envelope is unwrapped, whether it holds an API prompt or a UI workflow', () => {
    expect(detectWorkflowFormat({ input: { workflow: apiPrompt, images: [] } })).toEqual({
      format: 'api',
      prompt: apiPrompt,
      envelope: 'runpod',
    });
    expect(detectWorkflowFormat({ input: { workflow: textToImage(objectInfo).workflow() } })).toMatchObject({
      format: 'ui',
      envelope: 'runpod',
    });
    expect(detectWorkflowFormat({ prompt: apiPrompt, client_id: 'x' })).toMatchObject({
      format: 'api',
      envelope: 'prompt',
    });
  });

  test('a file holding several workflows, or something else entirely, is refused with workflow_invalid saying why', () => {
    const workflow = textToImage(objectInfo).workflow();
    const collection = () => detectWorkflowFormat({ first: workflow, second: workflow });
    expect(collection).toThrow(AppError);
    expect(collection).toThrow(/holds 2 workflows \(first, second\)/);
    for (const raw of [null, [], 'text', {}, { nodes: 'no' }, { '1': { inputs: {} } }]) {
      expect(() => detectWorkflowFormat(raw)).toThrow(expect.objectContaining({ code: 'workflow_invalid' }));
    }
  });
});

describe('API prompts pass through', () => {
  test('the prompt comes back unchanged, with titles from _meta and the class display name', () => {
    const result = convertWorkflow(apiPrompt, { objectInfo });
    expect(result.format).toBe('api');
    expect(result.prompt).toEqual(apiPrompt);
    expect(result.prompt).not.toBe(apiPrompt);
    expect(result.nodeMap['6']).toMatchObject({ classType: 'CLIPTextEncode', title: 'Positive', hasCustomTitle: true });
    expect(result.nodeMap['4']).toMatchObject({ title: 'Load Checkpoint', hasCustomTitle: false });
    expect(result.warnings).toEqual([]);
    expect(result.missingNodeTypes).toEqual([]);
  });

  test('a saved server cache key is removed and a numeric link id becomes a string, both reported', () => {
    const result = convertWorkflow(
      {
        '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'x' }, is_changed: ['abc'] },
        '2': { class_type: 'CLIPTextEncode', inputs: { text: 't', clip: [1, 1] } },
      },
      { objectInfo },
    );
    expect(result.prompt['1']).not.toHaveProperty('is_changed');
    expect(result.prompt['2']!.inputs.clip).toEqual(['1', 1]);
    expect(result.warnings.map((warning) => warning.code)).toEqual(['api_normalised', 'api_normalised']);
  });

  test('class types the server lacks are listed with the nodes that use them', () => {
    const result = convertWorkflow(
      {
        '1': { class_type: 'MyCustomNode', inputs: {} },
        '2': { class_type: 'MyCustomNode', inputs: {} },
        '3': apiPrompt['4'],
      },
      { objectInfo },
    );
    expect(result.missingNodeTypes).toEqual([{ type: 'MyCustomNode', nodeIds: ['1', '2'] }]);
  });

  test("an API file with the seed's top-level _meta is read for the card, and converts to the nodes alone", () => {
    const meta = { name: 'Cat portrait', description: 'A cat, painted', category: 'Animals' };
    const file = { _meta: meta, ...apiPrompt, '9': { class_type: 'SaveImage', inputs: { images: ['6', 0] } } };
    expect(analyzeWorkflow(file)).toEqual({ facts: expect.objectContaining({ format: 'api', ...meta, nodeCount: 3 }) });

    const detected = detectWorkflowFormat(file);
    expect(detected).toMatchObject({ format: 'api' });
    expect(Object.keys((detected as { prompt: object }).prompt).sort()).toEqual(['4', '6', '9']);
    const { prompt } = convertWorkflow(file, { objectInfo });
    expect(Object.keys(prompt).sort()).toEqual(['4', '6', '9']);
    // Inside the envelopes too.
    expect(Object.keys(convertWorkflow({ input: { workflow: file } }, { objectInfo }).prompt).sort()).toEqual([
      '4',
      '6',
      '9',
    ]);
  });

  test('the card and the converter agree on what is a node: an underscore id holding a node is one, junk is refused by both', () => {
    const withUnderscoreNode = { ...apiPrompt, _extra: { class_type: 'SaveImage', inputs: { images: ['6', 0] } } };
    expect(analyzeWorkflow(withUnderscoreNode)).toEqual({ facts: expect.objectContaining({ nodeCount: 3 }) });
    expect(Object.keys(convertWorkflow(withUnderscoreNode, { objectInfo }).prompt)).toContain('_extra');

    const withJunk = { ...apiPrompt, '7': { inputs: {} } };
    expect(analyzeWorkflow(withJunk)).toEqual({ problem: expect.objectContaining({ code: 'bad_shape' }) });
    expect(() => detectWorkflowFormat(withJunk)).toThrow(AppError);
  });
});
