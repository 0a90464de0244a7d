import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { ApiPrompt, Parameter } from '@shared/domain/generation';
import { runCli } from '../support/cli';
import { recordedObjectInfo } from '../support/corpus';
import { tempDir } from '../support/core';
import { RECORDED_OBJECT_INFO } from '../support/paths';
import { textToImage } from '../support/workflow-builder';

const dirs: Array<{ remove: () => void }> = [];
const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];

afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  for (const dir of dirs.splice(0)) dir.remove();
});

/** Writes a JSON file into a fresh temp folder and returns its path. */
function jsonFile(name: string, value: unknown): string {
  const dir = tempDir('comfydesk-convert-');
  dirs.push(dir);
  const path = join(dir.path, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

/** A real HTTP server on 127.0.0.1 standing in for a ComfyUI (or for something that is not one). */
async function serve(handler: (path: string, response: ServerResponse) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => handler(request.url ?? '/', response));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const objectInfoText = readFileSync(RECORDED_OBJECT_INFO, 'utf8');
const workflow = () => jsonFile('workflow.json', textToImage(recordedObjectInfo()).workflow());

describe('comfydesk convert', () => {
  test('prints the API prompt for a UI workflow and the recorded object_info', async () => {
    const result = await runCli(['convert', workflow(), '--object-info', RECORDED_OBJECT_INFO]);
    expect(result.code).toBe(0);
    const prompt = JSON.parse(result.stdout) as ApiPrompt;
    expect(prompt['3']).toMatchObject({ class_type: 'KSampler', inputs: { seed: 42, steps: 20, positive: ['6', 0] } });
    expect(result.stderr).toBe('');
  });

  test('--set changes parameters by id, typed by what they hold', async () => {
    const result = await runCli([
      'convert',
      workflow(),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--set',
      'prompt=a red fox, 35mm',
      '--set',
      'steps=30',
      '--set',
      'cfg=4.5',
      '--set',
      'sampler=dpmpp_2m',
    ]);
    expect(result.code).toBe(0);
    const prompt = JSON.parse(result.stdout) as ApiPrompt;
    expect(prompt['6']!.inputs.text).toBe('a red fox, 35mm');
    expect(prompt['3']!.inputs).toMatchObject({ steps: 30, cfg: 4.5, sampler_name: 'dpmpp_2m' });
  });

  test('--set with a value out of range, or a name that is not a parameter, is a usage error saying what is allowed', async () => {
    const result = await runCli([
      'convert',
      workflow(),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--set',
      'steps=0',
      '--set',
      'colour=red',
    ]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^comfydesk: "Steps" must be at least 1 \(got 0\); this workflow has no parameter "colour" \("comfydesk convert \S+ --params" lists the parameter ids\); nothing was sent\.\n$/,
    );
  });

  test('--params lists the detected parameters; with --json as data a form can be built from', async () => {
    const text = await runCli(['convert', workflow(), '--object-info', RECORDED_OBJECT_INFO, '--params']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Prompt:\n {2}prompt +Prompt +"a cat"/);
    expect(text.stdout).toMatch(/\n {2}seed +Seed +42 +\(int, 0–9007199254740991, randomize\)/);
    const json = await runCli([
      'convert',
      workflow(),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--params',
      '--json',
      '--set',
      'steps=12',
    ]);
    const { parameters } = JSON.parse(json.stdout) as { parameters: Parameter[] };
    expect(parameters.find((parameter) => parameter.id === 'steps')).toMatchObject({
      value: 12,
      constraints: { type: 'INT', min: 1, max: 10000 },
    });
  });

  test("--json prints the prompt with the conversion's warnings as one document", async () => {
    const result = await runCli(['convert', workflow(), '--object-info', RECORDED_OBJECT_INFO, '--json']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      format: 'ui',
      prompt: { '9': { class_type: 'SaveImage' } },
      warnings: [],
      missingNodeTypes: [],
    });
  });

  test('a workflow needing custom nodes the server lacks names them and exits 1', async () => {
    const builder = textToImage(recordedObjectInfo()).node(60, 'FancyUpscale', {
      properties: { cnr_id: 'fancy-nodes' },
    });
    const result = await runCli([
      'convert',
      jsonFile('custom.json', builder.workflow()),
      '--object-info',
      RECORDED_OBJECT_INFO,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing custom nodes: FancyUpscale (fancy-nodes)');
    const json = await runCli([
      'convert',
      jsonFile('custom.json', builder.workflow()),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--json',
    ]);
    expect(JSON.parse(json.stderr)).toMatchObject({
      error: {
        code: 'missing_custom_nodes',
        details: { missingNodeTypes: [{ type: 'FancyUpscale', cnrId: 'fancy-nodes' }] },
      },
    });
    // Listing parameters still works, with the missing nodes said on stderr.
    const params = await runCli([
      'convert',
      jsonFile('custom.json', builder.workflow()),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--params',
    ]);
    expect(params.code).toBe(0);
    expect(params.stdout).toContain('prompt');
    expect(params.stderr).toContain('warning: missing custom nodes: FancyUpscale (fancy-nodes)');
  });

  test('without node definitions, or with both sources, it is a usage error (exit 2)', async () => {
    const none = await runCli(['convert', workflow()]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('pass --object-info FILE or --server URL');
    const both = await runCli([
      'convert',
      workflow(),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--server',
      'http://127.0.0.1:1',
    ]);
    expect(both.code).toBe(2);
    const badUrl = await runCli(['convert', workflow(), '--server', 'not a url']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--server must be a URL');
  });

  test('a file that is not JSON, or not a workflow, is refused with what to do', async () => {
    const notJson = await runCli([
      'convert',
      jsonFile('broken.json', '{"nodes": ['),
      '--object-info',
      RECORDED_OBJECT_INFO,
    ]);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/broken\.json is not valid JSON .*Save it again from ComfyUI\./);
    const notWorkflow = await runCli([
      'convert',
      jsonFile('other.json', { hello: 'world' }),
      '--object-info',
      RECORDED_OBJECT_INFO,
      '--json',
    ]);
    expect(JSON.parse(notWorkflow.stderr)).toMatchObject({ error: { code: 'workflow_invalid' } });
  });
});

describe('comfydesk convert --server', () => {
  test('reads /api/object_info from a running server and converts as with the saved file', async () => {
    const requested: string[] = [];
    const url = await serve((path, response) => {
      requested.push(path);
      response
        .writeHead(path === '/api/object_info' ? 200 : 404, { 'content-type': 'application/json' })
        .end(path === '/api/object_info' ? objectInfoText : '{}');
    });
    const file = workflow();
    const fromServer = await runCli(['convert', file, '--server', url]);
    const fromFile = await runCli(['convert', file, '--object-info', RECORDED_OBJECT_INFO]);
    expect(fromServer.code).toBe(0);
    expect(fromServer.stdout).toBe(fromFile.stdout);
    expect(requested).toEqual(['/api/object_info']);
  });

  test('honours a path prefix (ComfyUI behind a proxy under /comfy)', async () => {
    const requested: string[] = [];
    const url = await serve((path, response) => {
      requested.push(path);
      response
        .writeHead(path === '/comfy/api/object_info' ? 200 : 404, { 'content-type': 'application/json' })
        .end(path === '/comfy/api/object_info' ? objectInfoText : 'not found');
    });
    const result = await runCli(['convert', workflow(), '--server', `${url}/comfy`, '--params', '--json']);
    expect(result.code).toBe(0);
    expect(requested).toEqual(['/comfy/api/object_info']);
  });

  test('a server that is not there is reported as unreachable', async () => {
    const url = await serve(() => undefined);
    const { server, sockets } = servers.pop()!;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await runCli(['convert', workflow(), '--server', url, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({
      error: { code: 'comfy_unreachable', message: `Connection refused on ${new URL(url).host} — is ComfyUI running?` },
    });
  });

  test('something that answers but is not ComfyUI is told apart from an unreachable server', async () => {
    const html = await serve((_path, response) =>
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html>router login</html>'),
    );
    const htmlResult = await runCli(['convert', workflow(), '--server', html]);
    expect(htmlResult.code).toBe(1);
    expect(htmlResult.stderr).toContain('answered, but not like ComfyUI');
    const failing = await serve((_path, response) => response.writeHead(500, 'Internal Server Error').end());
    const failingResult = await runCli(['convert', workflow(), '--server', failing, '--json']);
    expect(JSON.parse(failingResult.stderr)).toMatchObject({
      error: { code: expect.stringMatching(/^comfy_/), message: expect.stringContaining('500') },
    });
  });

  test('a server that never answers runs into --timeout', async () => {
    const url = await serve(() => undefined);
    const result = await runCli(['convert', workflow(), '--server', url, '--timeout', '300']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`ComfyUI at ${new URL(url).host} did not answer within 0.3 s`);
  });
});
