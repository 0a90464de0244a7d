import catalogJson from '../../../../resources/models/catalog.json';
import imageToImage from '../../../../resources/workflows/Getting started/Image to image (SD 1.5).json?raw';
import textToImage from '../../../../resources/workflows/Getting started/Text to image (SD 1.5).json?raw';
import upscale from '../../../../resources/workflows/Getting started/Upscale 4x (Real-ESRGAN).json?raw';
import { CatalogFile } from './catalog';

/** A file written into the app's workflows folder on first start. */
export interface SampleFile {
  /** Relative to the folder, `/` separators. */
  path: string;
  content: string;
}

/**
 * The sample workflows seeded into a new workflows folder. Written for ComfyDesk (not copied from
 * elsewhere) and bundled into the build, so the CLI and the desktop app need no resource path.
 */
export const SAMPLE_WORKFLOWS: readonly SampleFile[] = [
  { path: 'Getting started/Text to image (SD 1.5).json', content: textToImage },
  { path: 'Getting started/Image to image (SD 1.5).json', content: imageToImage },
  { path: 'Getting started/Upscale 4x (Real-ESRGAN).json', content: upscale },
];

/** ComfyDesk's own model catalog (resources/models/catalog.json), validated at load. */
export function bundledCatalog(): CatalogFile {
  return CatalogFile.parse(catalogJson);
}
