/**
 * A ComfyUI protocol server for tests: real HTTP + WebSocket on 127.0.0.1 that behaves like
 * ComfyUI 0.3.64 (checked against the recorded transcripts in tests/integration/comfy-server-replay.test.ts
 * and against a real server in real-comfyui.test.ts).
 *
 * ```ts
 * const comfy = await startComfyServer({ models: { checkpoints: ['sd15.safetensors'] }, stepMs: 20 });
 * comfy.url;                                        // http://127.0.0.1:<free port>, also under /api
 * comfy.injectFailure({ classType: 'PeerSlowSteps', kind: 'exception', message: 'CUDA out of memory' });
 * comfy.injectFailure({ nodeId: '2', kind: 'disconnect' }); // drops every socket as node 2 starts
 * comfy.setTiming({ nodeMs: 50, stepMs: 100 });     // slow nodes / PeerSlowSteps steps
 * comfy.queue(); comfy.history();                   // raw state for assertions
 * await comfy.restart();                            // same port, queue/history/temp lost
 * await comfy.stop();
 * ```
 *
 * Nodes: any class of the recorded object_info validates exactly like ComfyUI (same error types,
 * messages and node_errors); EmptyImage, LoadImage, ImageInvert, GetImageSize, PreviewAny,
 * SaveImage, PreviewImage and the test node PeerSlowSteps (steps × step_ms with progress,
 * progress_state and preview frames) run for real; other classes run instantly. `SocketRecorder`
 * (./recorder) records a socket's frames as the transcripts do.
 *
 * `startComfyServer({ newer: true })` answers as a newer ComfyUI (0.38.x, read from its source): the
 * jobs API under /api/jobs, canonical-UUID prompt ids, create_time and missing_node_type (./jobs).
 * `/internal/folder_paths` and `/experiment/models/{folder}` answer as in 0.3.64; `manager: {…}` emulates
 * ComfyUI-Manager (./manager: its queue, node mappings and `/customnode/installed`).
 */
export { startComfyServer, MODEL_FOLDERS, type ComfyServerOptions, type ComfyTestServer } from './server';
export type { InjectedFailure, QueueTuple } from './executor';
export { PEER_SLOW_STEPS, loadObjectInfo } from './object-info';
export type { ManagerOptions, ManagerListModel, ManagerPack, ManagerInstalledPack } from './manager';
export { validatePrompt } from './validate';
export { SocketRecorder, describeFrame, shapeOf, type RecordedFrame } from './recorder';
