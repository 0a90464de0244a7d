// Shell scripts run on a server over SSH to read what a snapshot records. POSIX sh only (pods run
// Debian/Ubuntu images), data always on stdin so no path is ever put into a command line.

import { shQuote } from '../lib/shell-quote';

/** `sh -c <script>`: the login shell of the SSH user only starts sh, whatever it is itself. */
export function shCommand(script: string): string {
  return `sh -c ${shQuote(script)}`;
}

/**
 * Lists the packs in each custom_nodes folder given on stdin (one absolute path a line), with git
 * facts when git is there and pyproject.toml (base64) when it exists. Output, one record a line,
 * tab-separated: `@@pack <name> <1|0 enabled>`, then `remote`, `commit`, `branch`, `dirty`,
 * `pyproject` lines for that pack; finally `@@git <1|0>` says whether git was found.
 */
export const LIST_CUSTOM_NODES = `
has_git=0; command -v git >/dev/null 2>&1 && has_git=1
has_b64=0; command -v base64 >/dev/null 2>&1 && has_b64=1
g() { git -c safe.directory="*" -C "$@" 2>/dev/null; }
emit() {
  printf '@@pack\\t%s\\t%s\\n' "$(basename "$1")" "$2"
  if [ -d "$1" ] && [ "$has_git" = 1 ] && [ -e "$1/.git" ]; then
    printf 'remote\\t%s\\n' "$(g "$1" config --get remote.origin.url)"
    printf 'commit\\t%s\\n' "$(g "$1" rev-parse HEAD)"
    printf 'branch\\t%s\\n' "$(g "$1" symbolic-ref --short -q HEAD)"
    if [ -n "$(g "$1" status --porcelain --untracked-files=no | head -n 1)" ]; then printf 'dirty\\t1\\n'; else printf 'dirty\\t0\\n'; fi
  fi
  if [ -f "$1/pyproject.toml" ] && [ "$has_b64" = 1 ]; then
    printf 'pyproject\\t%s\\n' "$(head -c 65536 "$1/pyproject.toml" | base64 | tr -d '\\n')"
  fi
}
while IFS= read -r root; do
  [ -d "$root" ] || continue
  for d in "$root"/* "$root"/.disabled/*; do
    [ -e "$d" ] || continue
    name=$(basename "$d")
    case "$name" in __pycache__|.disabled|.*) continue;; esac
    if [ -f "$d" ]; then case "$name" in *.py|*.py.disabled) ;; *) continue;; esac; fi
    case "$d" in
      "$root"/.disabled/*) emit "$d" 0;;
      *.disabled) emit "$d" 0;;
      *) emit "$d" 1;;
    esac
  done
done
printf '@@git\\t%s\\n' "$has_git"
`;

/**
 * Size and SHA-256 of model files, one a line on stdin: the candidate paths of one file separated by
 * tabs (the first that is a file wins). Prints one line per input line, in order, as each is done:
 * `ok <size> <sha256>`, `nohash <size>` (no sha256sum/shasum there) or `missing`. One shell for all
 * files: a login shell can take seconds to start.
 */
export const HASH_FILES = `
tab=$(printf '\t')
if command -v sha256sum >/dev/null 2>&1; then hasher=sha256sum
elif command -v shasum >/dev/null 2>&1; then hasher="shasum -a 256"
else hasher=""; fi
while IFS= read -r line; do
  p=""
  rest=$line
  while [ -n "$rest" ]; do
    candidate=\${rest%%"$tab"*}
    if [ "$candidate" = "$rest" ]; then rest=""; else rest=\${rest#*"$tab"}; fi
    if [ -f "$candidate" ]; then p=$candidate; break; fi
  done
  if [ -z "$p" ]; then echo missing; continue; fi
  size=$(wc -c < "$p" | tr -d ' ')
  if [ -z "$hasher" ]; then echo "nohash $size"; continue; fi
  sum=$($hasher < "$p")
  printf 'ok %s %s\n' "$size" "\${sum%% *}"
done
`;

/** One pack as the custom_nodes listing gave it. */
export interface ListedPack {
  /** The folder or file name as it is on disk (with a `.disabled` suffix if it has one). */
  name: string;
  enabled: boolean;
  remote?: string;
  commit?: string;
  branch?: string;
  dirty?: boolean;
  /** pyproject.toml text. */
  pyproject?: string;
}

/** Parses LIST_CUSTOM_NODES's output. */
export function parseCustomNodesListing(output: string): { packs: ListedPack[]; hasGit: boolean } {
  const packs: ListedPack[] = [];
  let hasGit = false;
  let current: ListedPack | undefined;
  for (const line of output.split('\n')) {
    const [key, ...rest] = line.split('\t');
    const value = rest.join('\t');
    if (key === '@@pack') {
      current = { name: rest[0] ?? '', enabled: rest[1] === '1' };
      packs.push(current);
    } else if (key === '@@git') hasGit = value.trim() === '1';
    else if (current && key === 'remote' && value) current.remote = value.trim();
    else if (current && key === 'commit' && /^[0-9a-f]{40}$/.test(value.trim())) current.commit = value.trim();
    else if (current && key === 'branch' && value.trim()) current.branch = value.trim();
    else if (current && key === 'dirty') current.dirty = value.trim() === '1';
    else if (current && key === 'pyproject' && value)
      current.pyproject = Buffer.from(value.trim(), 'base64').toString('utf8');
  }
  return { packs, hasGit };
}
