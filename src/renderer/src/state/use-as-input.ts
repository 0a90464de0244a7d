/** Reads a saved output by its address (serve mode's /media/, the desktop app's media protocol). */
export async function fetchBlob(url: string): Promise<Blob> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.blob();
}

/** A saved output as a file to drop into an input, or why it cannot be read, in words. */
export async function readOutput(
  fetchFile: (url: string) => Promise<Blob>,
  url: string,
  name: string,
  mime: string | undefined,
): Promise<File | string> {
  try {
    const blob = await fetchFile(url);
    return new File([blob], name, { type: mime || blob.type });
  } catch {
    return `${name} could not be read from the outputs folder (was it moved or deleted?).`;
  }
}
