import { z } from 'zod';

/**
 * Every error code that may cross the bridge. Codes are snake_case and stable: the renderer and
 * the CLI branch on them, so rename one only together with its users.
 */
export const ErrorCode = z.enum([
  // Bridge and routing
  'invalid_message',
  'unknown_command',
  'invalid_input',
  'invalid_output',
  'timeout',
  'disconnected',
  'cancelled',
  'internal',
  // Another ComfyDesk process owns the data folder
  'already_running',
  // Local data and files
  'not_found',
  'settings_corrupt',
  'io_error',
  'disk_full',
  'permission_denied',
  // Generation: conversion and parameters
  'workflow_invalid',
  'object_info_invalid',
  'missing_custom_nodes',
  'parameter_invalid',
  'comfy_unexpected_response',
  // Workflow library
  'workflow_not_found',
  'workflow_root_invalid',
  // Connections: ComfyUI servers, URLs and SSH tunnels
  'invalid_url',
  'connection_not_found',
  'comfy_unreachable',
  'comfy_timeout',
  'comfy_tls_error',
  'comfy_not_comfyui',
  'comfy_http_error',
  'comfy_invalid_prompt',
  'comfy_offline',
  'ssh_unreachable',
  'ssh_auth_failed',
  'ssh_key_unreadable',
  'ssh_host_key_unknown',
  'ssh_host_key_changed',
  'tunnel_dropped',
  // Rented pods (RunPod) and server snapshots
  'runpod_unauthorized',
  'runpod_rate_limited',
  'runpod_unreachable',
  'runpod_error',
  'pod_not_found',
  'pod_stopped',
  'pod_unreachable',
  'snapshot_failed',
  // Jobs and history
  'job_not_found',
  'job_not_retryable',
  'input_too_large',
  // Prompt enhancement (llm)
  'llm_model_missing',
  'llm_model_invalid',
  'llm_load_failed',
  'llm_engine_stopped',
  'llm_timeout',
  'llm_empty_output',
  'llm_endpoint_unreachable',
  'llm_endpoint_error',
  'llm_download_failed',
  'llm_checksum_mismatch',
  // Transfers: files and custom-node packs onto a server
  'transfer_not_found',
  'download_failed',
  'download_not_found',
  'download_needs_token',
  'download_login_page',
  'checksum_mismatch',
  'transfer_unsupported',
  'manager_refused',
  'manager_failed',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** The only error shape that crosses the bridge: no stacks, no causes, no arbitrary properties. */
export const SerializedError = z.object({
  code: ErrorCode,
  /** One or two sentences for a person: what happened, what was kept, what to do next. */
  userMessage: z.string(),
  /** Serialisable facts the UI may show or branch on (ids, paths, ComfyUI's own messages). */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type SerializedError = z.infer<typeof SerializedError>;
