import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { RemoteShell } from '../connections/ssh-tunnel';
import type { AppendHandle, DownloadFileStore } from './file-store';
import { shQuote } from '../lib/shell-quote';
import { remoteFreeBytes } from './remote-tools';

/** SFTP's "no such file" status. */
const NO_SUCH_FILE = 2;
/** Pieces of a block written at once (OpenSSH takes up to 256 KiB per write). */
const PIECE_BYTES = 256 * 1024;

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === NO_SUCH_FILE;
}

function call<T>(run: (callback: (error: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value))));
}

/**
 * A server's disk over SFTP, on the same SSH connection: the downloader streams a file here when
 * the server has neither curl nor wget. Writes go out a block at a time with several pieces in
 * flight; renames and free space use the shell.
 */
export function sftpFileStore(shell: RemoteShell, sftp: SFTPWrapper, pathPrefix?: string): DownloadFileStore {
  const run = async (script: string) => {
    const head = pathPrefix ? `PATH=${shQuote(pathPrefix)}; export PATH\n` : '';
    const result = await shell.exec('sh -s', { stdin: `${head}${script}\n` });
    if (result.code !== 0) throw new Error(result.stderr.trim() || `exit ${result.code}`);
  };
  return {
    mkdirp: (dir) => run(`mkdir -p ${shQuote(dir)}`),
    size: async (path) => {
      try {
        return (await call<{ size: number }>((done) => sftp.stat(path, done))).size;
      } catch (error) {
        if (isMissing(error)) return 0;
        throw error;
      }
    },
    read: (path) => sftp.createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>,
    openAppend: async (path): Promise<AppendHandle> => {
      let position = 0;
      try {
        position = (await call<{ size: number }>((done) => sftp.stat(path, done))).size;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
      const handle = await call<Buffer>((done) => sftp.open(path, position > 0 ? 'r+' : 'w', done));
      return {
        write: async (chunks) => {
          const buffer = Buffer.concat(chunks);
          const writes: Array<Promise<void>> = [];
          for (let offset = 0; offset < buffer.length; offset += PIECE_BYTES) {
            const length = Math.min(PIECE_BYTES, buffer.length - offset);
            const at = position + offset;
            writes.push(
              call<void>((done) => sftp.write(handle, buffer, offset, length, at, (error) => done(error, undefined))),
            );
          }
          await Promise.all(writes);
          position += buffer.length;
        },
        sync: async () => {
          // OpenSSH's fsync extension when offered; the rename after it is what makes the file visible.
          await call<void>((done) => sftp.ext_openssh_fsync(handle, (error) => done(error, undefined))).catch(
            () => undefined,
          );
        },
        close: () => call<void>((done) => sftp.close(handle, (error) => done(error, undefined))),
      };
    },
    truncate: (path, sizeBytes) =>
      call<void>((done) => sftp.setstat(path, { size: sizeBytes }, (error) => done(error, undefined))),
    readText: async (path) => {
      try {
        return (await call<Buffer>((done) => sftp.readFile(path, done))).toString('utf8');
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    writeText: (path, text) => call<void>((done) => sftp.writeFile(path, text, (error) => done(error, undefined))),
    rename: (from, to) => run(`mv -f ${shQuote(from)} ${shQuote(to)}`),
    remove: async (path) => {
      try {
        await call<void>((done) => sftp.unlink(path, (error) => done(error, undefined)));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    },
    freeBytes: (dir) => remoteFreeBytes(shell, dir, pathPrefix).catch(() => null),
    dirname: (path) => posix.dirname(path),
  };
}
