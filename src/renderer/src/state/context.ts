import { createContext } from 'svelte';
import type { AppState } from './app.svelte';
import type { ConnectionsState } from './connections.svelte';
import type { GenerationState } from './generation.svelte';
import type { HistoryState } from './history.svelte';
import type { JobsState } from './jobs.svelte';
import type { LibraryState } from './library.svelte';
import type { LlmState } from './llm.svelte';
import type { Navigation } from './navigation.svelte';
import type { PodsState } from './pods.svelte';
import type { SettingsState } from './settings.svelte';
import type { Toasts } from './toasts.svelte';
import type { TransfersState } from './transfers.svelte';
import type { WebNotifications } from './web-notifications.svelte';

// One typed context pair per state class: App.svelte sets them once, components get them, and a
// test can mount any component with instances of its own.
export const [getAppState, setAppState] = createContext<AppState>();
export const [getSettings, setSettings] = createContext<SettingsState>();
export const [getToasts, setToasts] = createContext<Toasts>();
export const [getNavigation, setNavigation] = createContext<Navigation>();
export const [getLibrary, setLibrary] = createContext<LibraryState>();
export const [getConnections, setConnections] = createContext<ConnectionsState>();
export const [getLlm, setLlm] = createContext<LlmState>();
export const [getJobs, setJobs] = createContext<JobsState>();
export const [getGeneration, setGeneration] = createContext<GenerationState>();
export const [getHistory, setHistory] = createContext<HistoryState>();
export const [getWebNotifications, setWebNotifications] = createContext<WebNotifications>();
export const [getPods, setPods] = createContext<PodsState>();
export const [getTransfers, setTransfers] = createContext<TransfersState>();

/**
 * The transfers state when a parent provides it. Workflow cards use this, so a view that renders
 * cards without downloads (a test harness, an embedded list) shows them without Get missing.
 */
export function findTransfers(): TransfersState | undefined {
  try {
    return getTransfers();
  } catch {
    return undefined;
  }
}
