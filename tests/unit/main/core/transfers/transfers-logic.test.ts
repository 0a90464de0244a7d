import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  describeRefusal,
  fileNameFromDisposition,
  looksLikeHtml,
  normalizeDownloadUrl,
  tokenProviderOf,
} from '../../../../../src/main/core/transfers/http-answers';
import { modelCommands, packCommands } from '../../../../../src/main/core/transfers/manual-commands';
import { ModelList, parseApproxSize } from '../../../../../src/main/core/transfers/model-list';
import { groupByPack, NodeMap } from '../../../../../src/main/core/transfers/node-map';
import { shQuote } from '../../../../../src/main/core/lib/shell-quote';
import { readWorkflowHints } from '../../../../../src/main/core/transfers/workflow-hints';
import { readJson } from '../../../../support/corpus';
import { CORPUS_DIR } from '../../../../support/paths';

describe('download addresses', () => {
  test('a Hugging Face blob page becomes its resolve download, a Civitai page with a version its download API', () => {
    expect(normalizeDownloadUrl('https://huggingface.co/org/repo/blob/main/split/model.safetensors')).toEqual({
      url: 'https://huggingface.co/org/repo/resolve/main/split/model.safetensors',
    });
    expect(normalizeDownloadUrl('https://civitai.com/models/4201/realistic?modelVersionId=130072')).toEqual({
      url: 'https://civitai.com/api/download/models/130072',
    });
    expect(normalizeDownloadUrl('https://civitai.com/models/4201/realistic').problem).toMatch(/Pick the version/);
    expect(normalizeDownloadUrl('https://huggingface.co/org/repo').problem).toMatch(/a page, not a file/);
    expect(normalizeDownloadUrl('ftp://example.com/x').problem).toMatch(/Only http\(s\)/);
    expect(normalizeDownloadUrl('not a url').problem).toMatch(/not a web address/);
  });

  test('tokens go only to Hugging Face (and its mirror) and Civitai', () => {
    expect(tokenProviderOf('https://huggingface.co/a/b/resolve/main/x')).toBe('huggingface');
    expect(tokenProviderOf('https://cdn-lfs.huggingface.co/x')).toBe('huggingface');
    expect(tokenProviderOf('https://hf-mirror.com/a/b/resolve/main/x', ['hf-mirror.com'])).toBe('huggingface');
    expect(tokenProviderOf('https://civitai.red/api/download/models/1')).toBe('civitai');
    expect(tokenProviderOf('https://evil-huggingface.co.example.com/x')).toBeUndefined();
    expect(tokenProviderOf('https://example.com/model.safetensors')).toBeUndefined();
  });

  test('refusals are explained: a gated model needs the token, a refused token the licence', () => {
    expect(describeRefusal(401, 'https://huggingface.co/a/b/resolve/main/x', false)).toMatch(
      /needs your Hugging Face token .* https:\/\/huggingface\.co\/settings\/tokens, .* Downloads › Access tokens/,
    );
    expect(describeRefusal(403, 'https://huggingface.co/a/b/resolve/main/x', true)).toMatch(
      /refused your Hugging Face token .* accept the model's licence/,
    );
    expect(describeRefusal(404, 'https://example.com/x', false)).toMatch(/no longer has this file \(404\)/);
  });

  test('an HTML page is recognised by its first bytes; a safetensors header is not', () => {
    expect(looksLikeHtml(Buffer.from('\n  <!DOCTYPE html><html>'))).toBe(true);
    expect(looksLikeHtml(Buffer.from('<HTML><body>login'))).toBe(true);
    const safetensors = Buffer.concat([Buffer.from([0x10, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"__metadata__":{}}')]);
    expect(looksLikeHtml(safetensors)).toBe(false);
  });

  test('Content-Disposition names are read in both forms', () => {
    expect(fileNameFromDisposition(`attachment; filename*=UTF-8''caf%C3%A9.safetensors`)).toBe('café.safetensors');
    expect(fileNameFromDisposition('attachment; filename="model.ckpt"')).toBe('model.ckpt');
    expect(fileNameFromDisposition(null)).toBeNull();
  });
});

describe('public lists', () => {
  test("ComfyUI-Manager's model list is indexed by folder and file name, with approximate sizes", () => {
    const list = ModelList.parse({
      models: [
        {
          name: 'a',
          type: 'lora',
          base: 'SDXL',
          save_path: 'default',
          filename: 'a.safetensors',
          url: 'https://x/a',
          size: '2.13GB',
        },
        {
          name: 'b',
          type: 'controlnet',
          base: 'SDXL',
          save_path: 'controlnet/SDXL',
          filename: 'b.safetensors',
          url: 'https://x/b',
          size: '4.71MB',
        },
        { name: 'c', type: 'clip', base: 'x', save_path: 'custom_nodes/pack/x', filename: 'c.bin', url: 'https://x/c' },
        { name: 'broken' },
      ],
    });
    expect(list.size).toBe(2);
    expect(list.find('a.safetensors', 'loras')).toMatchObject({ url: 'https://x/a', approxBytes: 2_130_000_000 });
    expect(list.find('SDXL/b.safetensors', 'controlnet')).toMatchObject({ url: 'https://x/b' });
    expect(list.find('b.safetensors', null)).toMatchObject({ folder: 'controlnet' });
    expect(list.find('c.bin', 'text_encoders')).toBeUndefined();
    expect(parseApproxSize('335KB')).toBe(335_000);
    expect(parseApproxSize('nonsense')).toBeUndefined();
  });

  test('node types are grouped by pack: the workflow names the fork, patterns catch the rest, the unknown stay unresolved', () => {
    const map = NodeMap.parse({
      'https://github.com/kijai/ComfyUI-KJNodes': [['ImageResizeKJ', 'ColorMatch'], { title_aux: 'KJNodes' }],
      'https://github.com/someone/KJNodes-fork': [['ColorMatch'], { title_aux: 'fork' }],
      'https://github.com/Suzie1/ComfyUI_Comfyroll_CustomNodes': [
        [],
        { title_aux: 'Comfyroll', nodename_pattern: ' \\(Comfyroll\\)$' },
      ],
      'https://github.com/comfyanonymous/ComfyUI': [['NewCoreNode'], { title_aux: 'ComfyUI' }],
    });
    const hints = new Map([
      ['ColorMatch', { repo: 'someone/KJNodes-fork' }],
      ['OnlyInWorkflow', { repo: 'me/my-pack', registryId: 'my-pack' }],
    ]);
    const { packs, unresolved } = groupByPack(
      ['ImageResizeKJ', 'ColorMatch', 'CR Image (Comfyroll)', 'NewCoreNode', 'OnlyInWorkflow', 'Nobody'],
      [{ map, source: 'node-map' }],
      hints,
    );
    expect(packs.map((pack) => [pack.title, pack.nodeTypes])).toEqual([
      ['ComfyUI_Comfyroll_CustomNodes', ['CR Image (Comfyroll)']],
      ['KJNodes-fork', ['ColorMatch']],
      ['ComfyUI-KJNodes', ['ImageResizeKJ']],
      ['ComfyUI (a newer version)', ['NewCoreNode']],
      ['my-pack', ['OnlyInWorkflow']],
    ]);
    expect(packs.at(-1)).toMatchObject({
      url: 'https://github.com/me/my-pack',
      registryId: 'my-pack',
      source: 'workflow',
    });
    expect(unresolved).toEqual(['Nobody']);
  });
});

describe('commands to copy', () => {
  test('a model command downloads into .part with resume, checks the hash, reads the token from the environment', () => {
    const command = modelCommands([
      {
        name: "it's.safetensors",
        url: 'https://huggingface.co/a/b/resolve/main/x.safetensors',
        destinationDir: '/workspace/ComfyUI/models/checkpoints',
        sha256: 'a'.repeat(64),
        needsToken: 'huggingface',
      },
    ])!;
    expect(command.command).toBe(
      [
        '# set your token first: export HF_TOKEN=…   (gated files below need it)',
        `mkdir -p '/workspace/ComfyUI/models/checkpoints' && cd '/workspace/ComfyUI/models/checkpoints' && curl -L --fail -C - -H "Authorization: Bearer $HF_TOKEN" -o 'it'\\''s.safetensors.part' 'https://huggingface.co/a/b/resolve/main/x.safetensors' && echo '${'a'.repeat(64)}  it'\\''s.safetensors.part' | sha256sum -c - && mv 'it'\\''s.safetensors.part' 'it'\\''s.safetensors'`,
      ].join('\n'),
    );
  });

  test('a pack command clones into custom_nodes, installs its requirements and says to restart', () => {
    const command = packCommands(
      [
        {
          id: 'x',
          title: 'ComfyUI-KJNodes',
          url: 'https://github.com/kijai/ComfyUI-KJNodes',
          nodeTypes: ['A'],
          source: 'node-map',
        },
      ],
      '/workspace/ComfyUI/custom_nodes',
    )!;
    expect(command.command.split('\n')).toEqual([
      "cd '/workspace/ComfyUI/custom_nodes'",
      "git clone 'https://github.com/kijai/ComfyUI-KJNodes'",
      "if [ -f 'ComfyUI-KJNodes/requirements.txt' ]; then python -m pip install -r 'ComfyUI-KJNodes/requirements.txt'; fi",
      '# then restart ComfyUI. Use the Python that runs ComfyUI (e.g. its venv) for pip.',
    ]);
    expect(shQuote("a'b")).toBe(`'a'\\''b'`);
  });
});

describe.skipIf(!CORPUS_DIR)('workflow hints on real templates', () => {
  test('note links next to model names, hashes and pack ids are read from ComfyUI templates', () => {
    const hidream = readWorkflowHints(
      readJson(join(CORPUS_DIR!, 'workflow_templates', 'templates', 'hidream_i1_full.json')),
    );
    expect(hidream.noteUrls.get('hidream_i1_full_fp8.safetensors')).toBe(
      'https://huggingface.co/Comfy-Org/HiDream-I1_ComfyUI/resolve/main/split_files/diffusion_models/hidream_i1_full_fp8.safetensors',
    );
    expect(hidream.noteUrls.get('clip_l_hidream.safetensors')).toMatch(/\/clip_l_hidream\.safetensors$/);
    const animate = readWorkflowHints(
      readJson(join(CORPUS_DIR!, 'workflow_templates', 'templates', 'video_wan2_2_14B_animate.json')),
    );
    expect(animate.packs.get('Sam2Segmentation')).toEqual({ registryId: 'ComfyUI-segment-anything-2' });
    expect(animate.packs.get('PixelPerfectResolution')).toEqual({ registryId: 'comfyui_controlnet_aux' });
    expect(animate.packs.has('KSampler')).toBe(false);
  });
});
