/**
 * What only a desktop shell can do for the user: open folders and links with the operating
 * system, open extra windows. Electron provides it; serve mode and the CLI run without one, and
 * commands then answer with the path or URL so the browser can show it instead.
 */
export interface DesktopPort {
  /** Opens a folder (or file) with the system's default app. */
  openPath(path: string): Promise<void>;
  /** Shows a file selected in the system file manager. */
  showItemInFolder(path: string): void;
  /** Opens an http(s) URL in the user's browser. */
  openExternal(url: string): Promise<void>;
}
