import { TOKEN_PROVIDER_NAMES, type TokenProvider } from '@shared/domain/transfer';

/** Where each provider's users create the token ComfyDesk needs. */
export const TOKEN_PAGES: Record<TokenProvider, string> = {
  huggingface: 'https://huggingface.co/settings/tokens',
  civitai: 'https://civitai.com/user/account',
};

/**
 * The site whose token a download address needs: Hugging Face (and a mirror named by `HF_ENDPOINT`),
 * Civitai (`.com` and `.red`). Undefined for any other host — ComfyDesk never sends a token there.
 */
export function tokenProviderOf(url: string, extraHuggingFaceHosts: readonly string[] = []): TokenProvider | undefined {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
  if (host === 'huggingface.co' || host.endsWith('.huggingface.co') || extraHuggingFaceHosts.includes(host))
    return 'huggingface';
  if (/(^|\.)civitai\.(com|red)$/.test(host)) return 'civitai';
  return undefined;
}

/** The request header carrying a provider's token (both accept a Bearer token). */
export function tokenHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * The address to fetch for what a user pasted: a Hugging Face `blob/` page becomes its `resolve/`
 * download, a Civitai model page with a version becomes `/api/download/models/<version>`. Anything
 * else is kept. A `problem` says why an address cannot be used.
 */
export function normalizeDownloadUrl(input: string): { url: string; problem?: string } {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return { url: input, problem: 'That is not a web address. Paste a link that starts with https://.' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { url: input, problem: 'Only http(s) download links can be used.' };
  const host = url.hostname.toLowerCase();
  if (host === 'huggingface.co' || host === 'www.huggingface.co') {
    const blob = /^\/([^/]+\/[^/]+)\/blob\/(.+)$/.exec(url.pathname);
    if (blob) {
      url.pathname = `/${blob[1]}/resolve/${blob[2]}`;
      url.search = '';
      return { url: url.toString() };
    }
    if (!/\/resolve\//.test(url.pathname))
      return {
        url: url.toString(),
        problem:
          'This Hugging Face link is a page, not a file. Open the file on Hugging Face and copy its download link (the one with /resolve/).',
      };
  }
  if (/(^|\.)civitai\.(com|red)$/.test(host)) {
    if (url.pathname.startsWith('/api/download/models/')) return { url: url.toString() };
    const version = url.searchParams.get('modelVersionId');
    if (/^\/models\/\d+/.test(url.pathname) && version && /^\d+$/.test(version))
      return { url: `${url.protocol}//${url.host}/api/download/models/${version}` };
    if (/^\/models\/\d+/.test(url.pathname))
      return {
        url: url.toString(),
        problem:
          'This Civitai link is a model page. Pick the version you want on the page and copy its download link (…/api/download/models/<number>).',
      };
  }
  return { url: url.toString() };
}

/** The file name an address serves: the last path segment, without its query. */
export function fileNameFromUrl(url: string): string | null {
  try {
    const segment = decodeURIComponent(new URL(url).pathname.split('/').at(-1) ?? '');
    return segment || null;
  } catch {
    return null;
  }
}

/** The file name of a `Content-Disposition` header (`filename*=UTF-8''…` or `filename="…"`). */
export function fileNameFromDisposition(header: string | null): string | null {
  if (!header) return null;
  const extended = /filename\*\s*=\s*(?:UTF-8'[^']*')?([^;]+)/i.exec(header);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!.trim().replace(/^"|"$/g, ''));
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header);
  return plain ? plain[1]!.trim() : null;
}

/** True when the first bytes of a body are an HTML page (a login wall), never a model file. */
export function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 256)).toString('latin1').trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head');
}

/** Why a server refused a download, in words, with what to do. `provider`: whose token the address takes. */
export function describeRefusal(
  status: number,
  url: string,
  hasToken: boolean,
  provider: TokenProvider | undefined = tokenProviderOf(url),
): string {
  let host = 'The server';
  try {
    host = new URL(url).host;
  } catch {
    // keep the generic name
  }
  if (status === 404 || status === 410)
    return `${host} no longer has this file (${status}). The link may be out of date: paste another download URL for it.`;
  if (status === 401 || status === 403) {
    if (provider) {
      const name = TOKEN_PROVIDER_NAMES[provider];
      return hasToken
        ? `${host} refused your ${name} token for this file (${status}). Open ${url} in a browser with the same account and accept the model's licence, or check the token in Downloads › Access tokens.`
        : `This model needs your ${name} token (${host} answered ${status}). Create a read token at ${TOKEN_PAGES[provider]}, accept the model's licence on its page, and set the token in Downloads › Access tokens.`;
    }
    return `${host} refused the download (${status}). The file may need an account there; download it in a browser instead.`;
  }
  return `${host} refused the download (${status}). Try again later.`;
}
