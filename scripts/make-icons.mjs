// Renders the app icon (resources/icon.svg) and the tray icons to PNG with Chromium, and packs
// the Windows .ico and macOS .icns containers. Run after changing the artwork:
//   node_modules/.bin/node scripts/make-icons.mjs
// The results are committed; packaging and the tray only read them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, findChromium } from './lib/chromium.mjs';

const root = resolve(import.meta.dirname, '..');
const resources = join(root, 'resources');
const APP_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const TRAY_SIZES = [16, 32];
/** Progress ring frames: 0/8 … 8/8 of a turn. */
const RING_STEPS = 8;

function traySvg({ ring, error }) {
  const glyph = `<path d="M44 22a20 20 0 1 0 0 20" fill="none" stroke="#c9d4ff" stroke-width="7" stroke-linecap="round"/><circle cx="32" cy="32" r="5" fill="#e7e9ef"/>`;
  let extra = '';
  if (ring !== undefined) {
    const circumference = 2 * Math.PI * 28;
    extra += `<circle cx="32" cy="32" r="28" fill="none" stroke="rgba(255,255,255,0.18)" stroke-width="6"/>`;
    extra += `<circle cx="32" cy="32" r="28" fill="none" stroke="#4cd68a" stroke-width="6" stroke-linecap="round" stroke-dasharray="${(circumference * ring) / RING_STEPS} ${circumference}" transform="rotate(-90 32 32)"/>`;
  }
  if (error) extra += `<circle cx="50" cy="50" r="12" fill="#ff6b6b" stroke="#14161b" stroke-width="3"/>`;
  if (ring === undefined && !error) extra += `<circle cx="50" cy="32" r="6" fill="#4cd68a"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${glyph}${extra}</svg>`;
}

async function render(page, svg, size) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(
    `<html><body style="margin:0;background:transparent"><img src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}" width="${size}" height="${size}" style="display:block"></body></html>`,
  );
  await page.waitForFunction(() => document.images[0]?.complete);
  return page.screenshot({ omitBackground: true, type: 'png' });
}

/** .ico with PNG entries (Windows Vista and later read these). */
function buildIco(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2);
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, png }, index) => {
    const entry = 6 + index * 16;
    header.writeUInt8(size >= 256 ? 0 : size, entry);
    header.writeUInt8(size >= 256 ? 0 : size, entry + 1);
    header.writeUInt16LE(1, entry + 4);
    header.writeUInt16LE(32, entry + 6);
    header.writeUInt32LE(png.length, entry + 8);
    header.writeUInt32LE(offset, entry + 12);
    offset += png.length;
  });
  return Buffer.concat([header, ...images.map((image) => image.png)]);
}

/** .icns with PNG entries (icp4…ic10). */
function buildIcns(images) {
  const types = { 16: 'icp4', 32: 'icp5', 64: 'icp6', 128: 'ic07', 256: 'ic08', 512: 'ic09', 1024: 'ic10' };
  const chunks = images
    .filter(({ size }) => types[size])
    .map(({ size, png }) => {
      const head = Buffer.alloc(8);
      head.write(types[size], 0, 'ascii');
      head.writeUInt32BE(png.length + 8, 4);
      return Buffer.concat([head, png]);
    });
  const total = 8 + chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'ascii');
  head.writeUInt32BE(total, 4);
  return Buffer.concat([head, ...chunks]);
}

const found = await findChromium();
const browser = await chromium.launch({
  ...(found?.executablePath ? { executablePath: found.executablePath } : {}),
  args: CHROMIUM_ARGS,
});
const page = await browser.newPage({ deviceScaleFactor: 1 });
const appSvg = readFileSync(join(resources, 'icon.svg'), 'utf8');

mkdirSync(join(resources, 'icons'), { recursive: true });
const appImages = [];
for (const size of APP_SIZES) {
  const png = await render(page, appSvg, size);
  writeFileSync(join(resources, 'icons', `${size}x${size}.png`), png);
  appImages.push({ size, png });
}
writeFileSync(join(resources, 'icon.png'), appImages.find((image) => image.size === 1024).png);
writeFileSync(
  join(resources, 'icon.ico'),
  buildIco(appImages.filter(({ size }) => [16, 24, 32, 48, 64, 128, 256].includes(size))),
);
writeFileSync(join(resources, 'icon.icns'), buildIcns(appImages));

mkdirSync(join(resources, 'tray'), { recursive: true });
for (const size of TRAY_SIZES) {
  const suffix = size === 16 ? '' : '@2x';
  writeFileSync(join(resources, 'tray', `idle${suffix}.png`), await render(page, traySvg({}), size));
  writeFileSync(join(resources, 'tray', `error${suffix}.png`), await render(page, traySvg({ error: true }), size));
  for (let step = 0; step <= RING_STEPS; step += 1) {
    writeFileSync(
      join(resources, 'tray', `running-${step}${suffix}.png`),
      await render(page, traySvg({ ring: step }), size),
    );
  }
}
await browser.close();
console.log('icons written to resources/');
