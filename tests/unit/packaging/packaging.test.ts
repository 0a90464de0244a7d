import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, test } from 'vitest';
import { ROOT } from '../../support/paths';

const config = JSON.parse(readFileSync(join(ROOT, 'electron-builder.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- electron-builder's config, checked by its own schema below
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- read loosely, as npm does

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('packaging (electron-builder cannot run here: its configuration is checked instead)', () => {
  test("the configuration is valid against electron-builder's own schema", () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(schema);
    const { $schema: _ignored, ...rest } = config;
    const valid = validate(rest);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  test('it builds AppImage and deb, NSIS and dmg, from the built app', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.files).toContain('out/**');
    expect(packageJson.main).toBe('out/main/index.js');
    expect(packageJson.scripts.dist).toContain('npm run build');
    expect(packageJson.scripts.dist).toContain('electron-builder');
  });

  test('native modules are rebuilt for Electron and node-llama-cpp binaries stay outside the asar', () => {
    expect(config.npmRebuild).toBe(true);
    expect(config.asarUnpack).toEqual(
      expect.arrayContaining(['node_modules/node-llama-cpp/**', 'node_modules/@node-llama-cpp/**']),
    );
  });

  test('app icons exist at every size, and the .ico and .icns containers are well formed', () => {
    for (const size of [16, 24, 32, 48, 64, 128, 256, 512, 1024]) {
      expect(pngSize(join(ROOT, 'resources', 'icons', `${size}x${size}.png`))).toEqual({ width: size, height: size });
    }
    expect(pngSize(join(ROOT, 'resources', 'icon.png'))).toEqual({ width: 1024, height: 1024 });
    const ico = readFileSync(join(ROOT, config.win.icon));
    expect(ico.readUInt16LE(2)).toBe(1);
    expect(ico.readUInt16LE(4)).toBeGreaterThanOrEqual(6);
    const icns = readFileSync(join(ROOT, config.mac.icon));
    expect(icns.subarray(0, 4).toString('ascii')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
  });

  test('every resource folder the package ships exists', () => {
    for (const entry of config.extraResources as Array<{ from: string }>)
      expect(existsSync(join(ROOT, entry.from)), entry.from).toBe(true);
  });

  test('tray icons exist for idle, error and every progress ring step, at 1x and 2x', () => {
    for (const name of ['idle', 'error', ...Array.from({ length: 9 }, (_, step) => `running-${step}`)]) {
      expect(pngSize(join(ROOT, 'resources', 'tray', `${name}.png`))).toEqual({ width: 16, height: 16 });
      expect(pngSize(join(ROOT, 'resources', 'tray', `${name}@2x.png`))).toEqual({ width: 32, height: 32 });
    }
  });
});
