import { formatUsd, type PodPhase, type PodStatus } from '@shared/domain/pod';

const PHASE_WORDS: Record<PodPhase, string> = {
  running: 'Running',
  starting: 'Starting',
  stopping: 'Stopping',
  stopped: 'Stopped',
  terminated: 'Terminated',
  unknown: 'Checking…',
};

/** A pod's phase in a word. */
export function phaseWord(phase: PodPhase): string {
  return PHASE_WORDS[phase];
}

/** The status dot's tone for a pod. */
export function phaseTone(phase: PodPhase): 'ok' | 'busy' | 'off' | 'error' {
  if (phase === 'running') return 'ok';
  if (phase === 'starting' || phase === 'stopping' || phase === 'unknown') return 'busy';
  if (phase === 'terminated') return 'error';
  return 'off';
}

/** "1 h 05 min", "14 min", "40 s". */
export function duration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes >= 60) return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  if (minutes >= 1) return `${minutes} min`;
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

/** "RTX 4090 · $0.79/h". */
export function priceLine(pod: PodStatus): string {
  const gpu = pod.gpuName ? `${pod.gpuName}${pod.gpuCount && pod.gpuCount > 1 ? ` ×${pod.gpuCount}` : ''}` : undefined;
  const price = pod.costPerHr !== null ? `${formatUsd(pod.costPerHr)}/h` : undefined;
  return [gpu, price].filter(Boolean).join(' · ');
}

/** "$0.23 this session (17 min)" once the pod has run while ComfyDesk watched. */
export function sessionLine(pod: PodStatus): string | undefined {
  if (pod.sessionRunningMs <= 0) return undefined;
  return `${formatUsd(pod.sessionCostUsd)} this session (${duration(pod.sessionRunningMs)})`;
}

/** Seconds left in an auto-stop countdown. */
export function countdownSeconds(pod: PodStatus, now: number): number | undefined {
  return pod.autoStopAt === null ? undefined : Math.max(0, Math.ceil((pod.autoStopAt - now) / 1000));
}
