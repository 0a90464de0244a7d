import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { WorkflowRecord, WorkflowType } from '@shared/domain/workflow';
import { scanRoot } from '../../../../../src/main/core/workflows/scan-root';
import { CORPUS_DIR } from '../../../../support/paths';

/**
 * The scanner against the shared corpus of real public workflows. Where the corpus's own index
 * (expected.json: the official template index; inventory.json: format and node counts; the UI/API
 * pairs saved at the same run) says something the scanner also reports, they must agree. Each
 * remaining disagreement was looked at and is listed below with the reason.
 */

interface InventoryFile {
  path: string;
  format: string;
  nodes?: number;
  pair?: string;
}

interface Template {
  name: string;
  file: string;
  category_title: string;
  category_type: string;
  tags: string[];
  models: string[];
  OpenSource?: boolean;
}

/** Index tags that name a workflow type. Others (Image, API, ControlNet, LoRA…) say nothing about it. */
const TAG_TYPES: Record<string, WorkflowType> = {
  'Text to Image': 't2i',
  'Text-to-Image': 't2i',
  'Image to Image': 'i2i',
  'Image Edit': 'i2i',
  Inpaint: 'inpaint',
  Inpainting: 'inpaint',
  Outpaint: 'inpaint',
  Outpainting: 'inpaint',
  Upscale: 'upscale',
  'Text to Video': 't2v',
  'Image to Video': 'i2v',
  FLF2V: 'i2v',
  'Video to Video': 'v2v',
  'Text to Audio': 'audio',
  'Audio to Audio': 'audio',
  'Image to Model': '3d',
  'Multiview to Model': '3d',
  'Text to Model': '3d',
};

/** Index model families as they appear in model file names. */
const FAMILY_FILES: Record<string, RegExp> = {
  'SD1.5':
    /v1-5|sd15|dreamshaper|majicmix|japanesestyle|awpainting|architecturerealmix|interiordesign|512-inpainting|v2-1|control_v11|gligen|moxin|blindbox|vae-ft-mse/,
  Flux: /flux/,
  'Wan2.1': /wan2\.1|wan_2\.1|wan21/,
  'Wan2.2': /wan2\.2|wan22|wan2_2/,
  Wan: /wan/,
  'Qwen-Image': /qwen/,
  'SD3.5': /sd3\.5/,
  HiDream: /hidream/,
  SDXL: /sd_xl|sdxl|clip_vision_g/,
  'SDXL Turbo': /sd_xl_turbo/,
  'ACE-Step v1': /ace_step/,
  OmniGen: /omnigen/,
  LTXV: /ltx/,
  SVD: /svd/,
  'Hunyuan3D 2.0': /hunyuan3d-dit-v2/,
  'Hunyuan3D 2.0 MV': /hunyuan3d-dit-v2-mv/,
  'Hunyuan3D 2.0 MV Turbo': /mv-turbo/,
  Chroma: /chroma/,
  'Chroma1 Radiance': /chroma1-radiance/,
  HoMO: /humo/,
  Mochi: /mochi/,
  'Hunyuan Video': /hunyuan_video/,
  'Stable Audio': /stable-audio/,
  'Stable Zero123': /zero123/,
};

/**
 * Disagreements with the template index that were investigated; the scanner's answer is kept.
 * Key: template name, value: why the index and the file differ.
 */
const EXPLAINED: Record<string, string> = {
  // "Upscale" tags a hi-res-fix pass inside a text-to-image graph: the user gives text, gets an image.
  hiresfix_latent_workflow: 'text-to-image with a hi-res pass; no image goes in',
  esrgan_example: 'text-to-image with an ESRGAN pass; no image goes in',
  hiresfix_esrgan_workflow: 'text-to-image with a hi-res pass; no image goes in',
  latent_upscale_different_prompt_model: 'text-to-image with a latent upscale; no image goes in',
  // "Text to Image" on graphs that need a control or reference image from the user.
  image_qwen_image_union_control_lora: 'needs a control image from the user (LoadImage active)',
  image_qwen_image_controlnet_patch: 'needs a control image from the user (LoadImage active)',
  sdxl_revision_text_prompts: 'needs reference images for unCLIP revision (LoadImage active)',
  sdxl_revision_zero_positive: 'needs reference images for unCLIP revision (LoadImage active)',
  api_luma_photon_style_ref: 'needs a style reference image (LoadImage active)',
  api_openai_image_1_multi_inputs: 'needs input images (LoadImage active)',
  // The video tags name the technique; the file's active loaders decide what the user supplies.
  video_wan2_2_14B_animate: 'takes a driving video as well as the image (LoadVideo active): video to video',
  video_wan2_2_14B_fun_camera: 'takes an image and no video: image to video',
  video_wan2_2_5B_fun_inpaint: 'takes start/end frame images: image to video',
  video_wan2_2_5B_fun_control: 'takes a control video: video to video',
  video_wan_vace_outpainting: 'outpaints a video the user loads: video to video',
  video_wan_vace_inpainting: 'inpaints a video the user loads: video to video',
  image_to_video_wan: 'tagged Text to Video, but its LoadImage is active: image to video',
  'wan2.1_fun_inp': 'inpaints between frame images: image to video',
  'wan2.1_fun_control': 'takes a reference image and a Canny control image, no video: image to video',
  api_hailuo_minimax_video:
    'tagged Text to Video, but its first-frame LoadImage is active (the note calls it optional)',
  api_bfl_flux_pro_t2i: 'tagged Image Edit, but its image prompt LoadImage is bypassed: text to image',
  // Zero123 makes novel views of an object as images (SaveImage), not a mesh.
  stable_zero123_example: 'outputs images of new viewpoints, not a 3D file',
  // Index model families that name a different family than the file the template loads.
  image_chroma_text_to_image: 'index family "Flux"; the file loads Chroma1-HD (a Flux derivative)',
  '3d_hunyuan3d-v2.1': 'index family "Hunyuan3D 2.0"; the file loads hunyuan_3d_v2.1',
};

const describeCorpus = CORPUS_DIR ? describe : describe.skip;

describeCorpus('the shared workflow corpus', () => {
  const corpus = CORPUS_DIR!;
  let byPath: Map<string, WorkflowRecord>;
  let inventory: InventoryFile[];
  let templates: Template[];

  beforeAll(async () => {
    const { records } = await scanRoot(corpus);
    byPath = new Map(records.map((record) => [record.path, record]));
    inventory = (JSON.parse(readFileSync(join(corpus, 'inventory.json'), 'utf8')) as { files: InventoryFile[] }).files;
    templates = (JSON.parse(readFileSync(join(corpus, 'expected.json'), 'utf8')) as { templates: Template[] })
      .templates;
  });

  function report(title: string, agreed: number, total: number, disagreements: string[]): void {
    const rate = total === 0 ? 100 : (100 * agreed) / total;
    console.log(
      `${title}: ${agreed}/${total} agree (${rate.toFixed(1)}%)${disagreements.length > 0 ? `\n  ${disagreements.join('\n  ')}` : ''}`,
    );
  }

  test('every file scans to a record, and only the non-workflow files carry an error', () => {
    const listed = inventory.map((file) => file.path);
    for (const path of listed) expect(byPath.has(path), path).toBe(true);
    const failed = [...byPath.values()].filter((record) => record.error).map((record) => record.path);
    const expectedFailures = inventory
      .filter((file) => file.format === 'metadata' || file.format === 'UI-collection')
      .map((file) => file.path);
    expect(failed.filter((path) => path !== 'expected.json' && path !== 'inventory.json').sort()).toEqual(
      expectedFailures.sort(),
    );
  });

  test('format and node count agree with the corpus inventory', () => {
    let agreed = 0;
    let total = 0;
    const disagreements: string[] = [];
    for (const file of inventory) {
      const format = file.format === 'UI' ? 'ui' : file.format.startsWith('API') ? 'api' : undefined;
      if (!format) continue;
      total += 1;
      const record = byPath.get(file.path)!;
      if (record.format === format && record.nodeCount === file.nodes) agreed += 1;
      else
        disagreements.push(
          `${file.path}: inventory ${file.format}/${file.nodes}, scanner ${record.format}/${record.nodeCount}`,
        );
    }
    report('Format and node count vs inventory.json', agreed, total, disagreements);
    expect(disagreements).toEqual([]);
  });

  test('each UI workflow and the API prompt saved with it report the same models and media types', () => {
    let agreed = 0;
    const pairs = inventory.filter((file) => file.pair && file.format === 'UI');
    const disagreements: string[] = [];
    for (const file of pairs) {
      const ui = byPath.get(file.path)!;
      const api = byPath.get(file.pair!)!;
      const models = (record: WorkflowRecord) => record.models.map((model) => `${model.folder}/${model.name}`).sort();
      const same =
        JSON.stringify([models(ui), ui.inputTypes, ui.outputTypes, ui.type]) ===
        JSON.stringify([models(api), api.inputTypes, api.outputTypes, api.type]);
      if (same) agreed += 1;
      else disagreements.push(`${file.path}: ${JSON.stringify(models(ui))} vs ${JSON.stringify(models(api))}`);
    }
    report('UI workflow vs its API prompt (models, media, type)', agreed, pairs.length, disagreements);
    expect(pairs.length).toBeGreaterThan(100);
    expect(disagreements).toEqual([]);
  });

  test('media types and workflow types agree with the template index, except the investigated cases', () => {
    let mediaAgreed = 0;
    let typeAgreed = 0;
    let typeTotal = 0;
    const unexplained: string[] = [];
    const explained: string[] = [];
    for (const template of templates) {
      const record = byPath.get(`workflow_templates/${template.file}`)!;
      // The 3D API and LLM API categories carry the hint "image" for every entry (corpus README).
      const mediaOk =
        record.outputTypes.includes(template.category_type as never) ||
        ['3D API', 'LLM API'].includes(template.category_title);
      if (mediaOk) mediaAgreed += 1;
      const tagged = new Set(
        template.tags.map((tag) => TAG_TYPES[tag]).filter((type): type is WorkflowType => type !== undefined),
      );
      if (tagged.size > 0) {
        typeTotal += 1;
        if (tagged.has(record.type)) typeAgreed += 1;
      }
      const typeOk = tagged.size === 0 || tagged.has(record.type);
      if (mediaOk && typeOk) continue;
      const line = `${template.name}: index ${template.category_type} ${[...tagged].join('/')}, scanner ${record.outputTypes.join('+')} ${record.type}`;
      if (EXPLAINED[template.name]) explained.push(`${line} — ${EXPLAINED[template.name]}`);
      else unexplained.push(line);
    }
    report('Output media vs template index category', mediaAgreed, templates.length, []);
    report('Workflow type vs template index tags', typeAgreed, typeTotal, explained);
    expect(unexplained).toEqual([]);
    expect(mediaAgreed / templates.length).toBeGreaterThan(0.98);
  });

  test('model families of the template index are the files the scanner finds; partner-node templates need no local model', () => {
    let agreed = 0;
    let total = 0;
    const unexplained: string[] = [];
    const explained: string[] = [];
    for (const template of templates) {
      const record = byPath.get(`workflow_templates/${template.file}`)!;
      const files = record.models.map((model) => model.name.toLowerCase()).join(' ');
      const checks =
        template.OpenSource === false
          ? [{ family: '(partner API)', ok: record.models.length === 0 }]
          : template.models.map((family) => ({ family, ok: FAMILY_FILES[family]?.test(files) ?? false }));
      for (const check of checks) {
        total += 1;
        if (check.ok) {
          agreed += 1;
          continue;
        }
        const line = `${template.name}: index "${check.family}", scanner ${files || '(no models)'}`;
        if (EXPLAINED[template.name]) explained.push(`${line} — ${EXPLAINED[template.name]}`);
        else unexplained.push(line);
      }
    }
    report('Model families vs template index', agreed, total, explained);
    expect(unexplained).toEqual([]);
  });

  test('templates with embedded download metadata get a URL for every model the metadata names', () => {
    const withUrls = [...byPath.values()].filter(
      (record) => record.path.startsWith('workflow_templates/') && record.models.some((model) => model.url),
    );
    expect(withUrls.length).toBeGreaterThan(90);
    for (const record of withUrls)
      for (const model of record.models) if (model.url) expect(model.url).toMatch(/^https?:\/\//);
  });
});
