import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, test } from 'vitest';
import ToastList from '../../../src/renderer/src/components/ToastList.svelte';
import { Navigation, parseHash } from '../../../src/renderer/src/state/navigation.svelte';
import { Toasts } from '../../../src/renderer/src/state/toasts.svelte';

describe('navigation', () => {
  test('the hash picks the page and carries parameters; anything unknown lands on Generate', () => {
    expect(parseHash('#/workflows').page).toBe('workflows');
    expect(parseHash('#/generate?workflow=abc').params.get('workflow')).toBe('abc');
    expect(parseHash('#/nope').page).toBe('generate');
    expect(parseHash('').page).toBe('generate');
  });

  test('back on Generate after Settings, the workflow that was chosen is chosen again (the URL says so too)', async () => {
    window.location.hash = '#/generate?workflow=wf-a';
    const navigation = new Navigation();
    const disconnect = navigation.connect(window);
    try {
      expect(navigation.params.get('workflow')).toBe('wf-a');
      navigation.go('settings');
      await waitFor(() => expect(navigation.page).toBe('settings'));
      window.location.hash = '#/generate';
      await waitFor(() => expect(navigation.page).toBe('generate'));
      expect(navigation.params.get('workflow')).toBe('wf-a');
      expect(window.location.hash).toBe('#/generate?workflow=wf-a');
      // Choosing another one is remembered instead.
      navigation.go('generate', { workflow: 'wf-b' });
      await waitFor(() => expect(navigation.params.get('workflow')).toBe('wf-b'));
      navigation.go('models');
      await waitFor(() => expect(navigation.page).toBe('models'));
      navigation.go('generate');
      await waitFor(() => expect(navigation.params.get('workflow')).toBe('wf-b'));
    } finally {
      disconnect();
      window.location.hash = '';
    }
  });
});

describe('toasts', () => {
  test('an error toast stays until dismissed and tells its owner it was read', async () => {
    const toasts = new Toasts({ autoHideMs: 10 });
    let dismissed = 0;
    toasts.push({ level: 'error', message: 'ComfyUI is not answering.', onDismiss: () => (dismissed += 1) });
    render(ToastList, { toasts });
    expect(screen.getByRole('alert').textContent).toContain('ComfyUI is not answering.');
    await fireEvent.click(screen.getByRole('button', { name: 'Dismiss notification' }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(dismissed).toBe(1);
  });

  test('the same notice is shown once even if pushed twice (e.g. after a reconnect)', () => {
    const toasts = new Toasts();
    toasts.push({ id: 'n1', level: 'warning', message: 'x' });
    toasts.push({ id: 'n1', level: 'warning', message: 'x' });
    expect(toasts.items).toHaveLength(1);
  });
});
