export { startComfyServer, MODEL_FOLDERS, type ComfyServerOptions, type ComfyTestServer } from './server';
export type { InjectedFailure, QueueTuple } from './executor';
export { PEER_SLOW_STEPS, loadObjectInfo } from './object-info';
export { validatePrompt } from './validate';
