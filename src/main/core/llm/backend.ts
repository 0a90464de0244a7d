/** One generation: the messages, its limits, where streamed text goes, and how to stop it. */
export interface GenerateRequest {
  system: string;
  user: string;
  /** Generation stops after this many tokens. */
  maxTokens: number;
  /** Aborting stops generation; the call then rejects with the signal's reason. */
  signal: AbortSignal;
  /** Each piece of text as it is generated, in order. */
  onText: (text: string) => void;
}

/** What a generation produced. */
export interface GenerateResult {
  /** The whole answer, exactly as generated (cleaning happens later). */
  text: string;
  /** Tokens generated (the OpenAI-compatible backend counts streamed chunks when the server reports no usage). */
  tokens: number;
}

/** Why an enhancement was stopped: the two reasons are reported differently. */
export type StopReason = 'cancelled' | 'timeout';

/** The reason a signal was aborted with, when it is one of ours. */
export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  const reason: unknown = signal.reason;
  return reason === 'cancelled' || reason === 'timeout' ? reason : undefined;
}
