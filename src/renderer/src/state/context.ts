import { createContext } from 'svelte';
import type { AppState } from './app.svelte';
import type { ConnectionsState } from './connections.svelte';
import type { LibraryState } from './library.svelte';
import type { LlmState } from './llm.svelte';
import type { Navigation } from './navigation.svelte';
import type { SettingsState } from './settings.svelte';
import type { Toasts } from './toasts.svelte';

// One typed context pair per state class: App.svelte sets them once, components get them, and a
// test can mount any component with instances of its own.
export const [getAppState, setAppState] = createContext<AppState>();
export const [getSettings, setSettings] = createContext<SettingsState>();
export const [getToasts, setToasts] = createContext<Toasts>();
export const [getNavigation, setNavigation] = createContext<Navigation>();
export const [getLibrary, setLibrary] = createContext<LibraryState>();
export const [getConnections, setConnections] = createContext<ConnectionsState>();
export const [getLlm, setLlm] = createContext<LlmState>();
