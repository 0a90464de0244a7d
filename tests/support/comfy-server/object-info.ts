import { readFileSync } from 'node:fs';
import { RECORDED_OBJECT_INFO } from '../paths';

/** A node definition as the emulation needs it (the recorded object_info shape). */
export interface NodeDefinition {
  input: {
    required?: Record<string, unknown[]>;
    optional?: Record<string, unknown[]>;
    hidden?: Record<string, unknown>;
  };
  input_order?: Record<string, string[]>;
  output: unknown[];
  output_node?: boolean;
  name: string;
  [key: string]: unknown;
}

/**
 * Our test node PeerSlowSteps, exactly as a real ComfyUI 0.3.64 lists it once
 * `shared/comfyui/stand-ins/custom_nodes/comfydesk_peer_nodes` is installed (the recorded
 * object_info was taken without it).
 */
export const PEER_SLOW_STEPS: NodeDefinition = {
  input: {
    required: {
      image: ['IMAGE'],
      steps: ['INT', { default: 10, min: 1, max: 10000 }],
      step_ms: ['INT', { default: 200, min: 0, max: 60000 }],
      preview: ['BOOLEAN', { default: true }],
    },
  },
  input_order: { required: ['image', 'steps', 'step_ms', 'preview'] },
  output: ['IMAGE'],
  output_is_list: [false],
  output_name: ['IMAGE'],
  name: 'PeerSlowSteps',
  display_name: 'Peer Slow Steps (test)',
  description: '',
  python_module: 'custom_nodes.comfydesk_peer_nodes',
  category: 'testing',
  output_node: false,
};

let recorded: Record<string, NodeDefinition> | undefined;

/** The recorded server's node definitions plus PeerSlowSteps (a fresh copy each call: callers may edit it). */
export function loadObjectInfo(path: string = RECORDED_OBJECT_INFO): Record<string, NodeDefinition> {
  recorded ??= JSON.parse(readFileSync(path, 'utf8')) as Record<string, NodeDefinition>;
  return structuredClone({ ...recorded, PeerSlowSteps: PEER_SLOW_STEPS });
}
