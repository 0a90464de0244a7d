import { version } from '../../../package.json';

/** ComfyDesk's own version, from package.json at build time (only this field is bundled). */
export const APP_VERSION: string = version;
