import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import type { HostKeyProblem, SshProfile } from '@shared/domain/connection';
import { backoffDelayMs, type BackoffOptions } from '@shared/backoff';
import { Emitter, type Unsubscribe } from '../lib/emitter';
import { AppError, systemErrorCode } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { checkHostKey, keyTypeOf } from './known-hosts';

const { Client } = ssh2;

/** Where a tunnel is in its life. */
export type TunnelState = 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closed';

/** What the tunnel reports. */
export interface SshTunnelEvents {
  /** Each step, in words ("Connecting to pod:22…", "Tunnel open"), and failures. */
  state: { state: TunnelState; step: string; error?: AppError };
}

/** How a command ran on the SSH server. */
export interface ExecResult {
  /** The exit code; null when the command was ended by a signal. */
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
}

/** Options of one command run over SSH. */
export interface ExecOptions {
  /** Written to the command's standard input, which is then closed. */
  stdin?: string | Buffer;
  /** Closes the channel (the command may keep running on the server; scripts stop it themselves). */
  signal?: AbortSignal;
  /** Keep at most this much of stdout. @default 1 MiB */
  maxStdoutBytes?: number;
  /** Told each piece of standard error as it arrives (a long command's progress). */
  onStderr?: (text: string) => void;
  /** Told standard output as it arrives, as text (a command that reports one line per item). */
  onStdout?: (text: string) => void;
}

/**
 * Commands and files on the SSH server, over the same connection as the tunnel — so a model is
 * downloaded on the pod itself, never through this machine's uplink.
 */
export interface RemoteShell {
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** An SFTP session on the same connection; the caller ends it. */
  sftp(): Promise<SFTPWrapper>;
}

/** What the tunnel needs: the profile, its secret and how to read known_hosts. */
export interface SshTunnelDeps {
  profile: SshProfile;
  /** The private key's passphrase (from the secret store). Never logged. */
  passphrase?: string;
  /** ssh-agent socket for `agent` auth. @default process.env.SSH_AUTH_SOCK */
  agentSocket?: string;
  /** Reads ~/.ssh/known_hosts (empty when missing). */
  readKnownHosts: () => Promise<string>;
  log: Logger;
  /** @default fs.readFile */
  readKeyFile?: (path: string) => Promise<Buffer>;
  /** SSH keepalive period. @default 15000 */
  keepaliveIntervalMs?: number;
  /** Deadline for the TCP connect plus the SSH handshake. @default 10000 */
  readyTimeoutMs?: number;
  backoff?: BackoffOptions;
}

/**
 * A local port forward over SSH (ssh2, pure JavaScript): 127.0.0.1:<local port> → the remote
 * ComfyUI. The host key is checked against known_hosts or the pinned fingerprint before any
 * secret is sent. After the first successful open, a dropped link is re-opened by itself with
 * backoff, on the same local port, until `stop()`; authentication and host-key failures stop it
 * (they need the user).
 */
export class SshTunnel implements RemoteShell {
  readonly #deps: SshTunnelDeps;
  readonly #emitter: Emitter<SshTunnelEvents>;
  #server: Server | undefined;
  #client: InstanceType<typeof Client> | undefined;
  #isReady = false;
  #running = false;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #localPort = 0;
  #hostKeyProblem: HostKeyProblem | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(deps: SshTunnelDeps) {
    this.#deps = deps;
    this.#emitter = new Emitter(deps.log);
  }

  /** The local end: http://127.0.0.1:<port> reaches the remote ComfyUI. */
  get localPort(): number {
    return this.#localPort;
  }

  get isOpen(): boolean {
    return this.#isReady;
  }

  /** The host key problem that stopped the last attempt, if any. */
  get hostKeyProblem(): HostKeyProblem | undefined {
    return this.#hostKeyProblem;
  }

  on<K extends keyof SshTunnelEvents>(name: K, listener: (payload: SshTunnelEvents[K]) => void): Unsubscribe {
    return this.#emitter.on(name, listener);
  }

  /**
   * Runs a command on the SSH server. Rejects with `tunnel_dropped` when the link is down or drops
   * before the command ends (it may then still be running there).
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const client = this.#readyClient();
    const maxStdout = options.maxStdoutBytes ?? 1024 * 1024;
    return new Promise<ExecResult>((resolve, reject) => {
      client.exec(command, (error: Error | undefined, stream: ClientChannel) => {
        if (error) return reject(this.#dropped(error));
        const stdout: Buffer[] = [];
        let stdoutBytes = 0;
        let stderr = '';
        let exit: { code: number | null; signal: string | null } | undefined;
        const onAbort = () => stream.close();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const stdoutText = new StringDecoder('utf8');
        stream.on('data', (chunk: Buffer) => {
          if (options.onStdout) options.onStdout(stdoutText.write(chunk));
          if (stdoutBytes >= maxStdout) return;
          stdout.push(chunk);
          stdoutBytes += chunk.length;
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          options.onStderr?.(text);
          if (stderr.length < 64 * 1024) stderr += text;
        });
        stream.on('exit', (code: number | null, signal?: string) => {
          exit = { code: typeof code === 'number' ? code : null, signal: signal ?? null };
        });
        stream.on('error', () => undefined);
        stream.on('close', () => {
          options.signal?.removeEventListener('abort', onAbort);
          if (!exit) {
            if (options.signal?.aborted)
              return resolve({ code: null, signal: 'ABORTED', stdout: Buffer.concat(stdout), stderr });
            return reject(this.#dropped(new Error('the channel closed without an exit status')));
          }
          resolve({ ...exit, stdout: Buffer.concat(stdout), stderr });
        });
        if (options.stdin !== undefined) stream.end(options.stdin);
        else stream.end();
      });
    });
  }

  /** An SFTP session on the tunnel's connection (the server must offer the sftp subsystem). */
  async sftp(): Promise<SFTPWrapper> {
    const client = this.#readyClient();
    return new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((error: Error | undefined, sftp: SFTPWrapper) =>
        error ? reject(this.#dropped(error)) : resolve(sftp),
      );
    });
  }

  #readyClient(): InstanceType<typeof Client> {
    const client = this.#client;
    if (!client || !this.#isReady)
      throw new AppError('tunnel_dropped', `The SSH connection to ${this.#deps.profile.host} is down right now.`);
    return client;
  }

  #dropped(cause: Error): AppError {
    return new AppError(
      'tunnel_dropped',
      `The SSH connection to ${this.#deps.profile.host} dropped while a command ran there (${cause.message}).`,
      { cause },
    );
  }

  /** Listens locally and opens the SSH connection; resolves once the tunnel works, rejects with a translated AppError. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.#listen();
      await this.#connectOnce();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#retryTimer);
    this.#isReady = false;
    const client = this.#client;
    this.#client = undefined;
    client?.removeAllListeners();
    client?.on('error', () => undefined);
    client?.end();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #emit(state: TunnelState, step: string, error?: AppError): void {
    this.#emitter.emit('state', error ? { state, step, error } : { state, step });
  }

  async #listen(): Promise<void> {
    const server = createServer((socket) => this.#forward(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => {
        const code = systemErrorCode(error);
        reject(
          new AppError(
            'io_error',
            code === 'EADDRINUSE'
              ? `Local port ${this.#deps.profile.localPort} is already in use. Pick another local port for this connection, or 0 for a free one.`
              : `The tunnel could not listen on 127.0.0.1 (${code ?? 'error'}).`,
            { cause: error },
          ),
        );
      });
      server.listen(this.#deps.profile.localPort, '127.0.0.1', () => resolve());
    });
    this.#localPort = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  #forward(socket: Socket): void {
    const client = this.#client;
    if (!client || !this.#isReady) {
      socket.destroy(); // the link is down: the caller sees a refused request and retries after the reconnect
      return;
    }
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const { remoteHost, remotePort } = this.#deps.profile;
    client.forwardOut(
      '127.0.0.1',
      socket.remotePort ?? 0,
      remoteHost,
      remotePort,
      (error: Error | undefined, stream: ClientChannel) => {
        if (error) {
          this.#deps.log.warn('forward refused by the SSH server', { error: error.message });
          socket.destroy();
          return;
        }
        socket.pipe(stream).pipe(socket);
        stream.on('error', () => socket.destroy());
        stream.on('close', () => socket.destroy());
      },
    );
  }

  async #config(): Promise<ConnectConfig> {
    const { profile, passphrase, log } = this.#deps;
    const config: ConnectConfig = {
      host: profile.host,
      port: profile.port,
      username: profile.username,
      readyTimeout: this.#deps.readyTimeoutMs ?? 10_000,
      keepaliveInterval: this.#deps.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
    };
    if (profile.auth === 'agent') {
      const agent = this.#deps.agentSocket ?? process.env.SSH_AUTH_SOCK;
      if (!agent)
        throw new AppError(
          'ssh_auth_failed',
          'No ssh-agent is running here (SSH_AUTH_SOCK is not set). Start one and add your key (ssh-add), or use a key file.',
        );
      config.agent = agent;
    } else {
      if (!profile.keyPath)
        throw new AppError(
          'ssh_key_unreadable',
          `Choose the private key file for ${profile.username}@${profile.host}.`,
        );
      let key: Buffer;
      try {
        key = await (this.#deps.readKeyFile ?? ((path: string) => readFile(path)))(profile.keyPath);
      } catch (error) {
        throw new AppError(
          'ssh_key_unreadable',
          `The private key ${profile.keyPath} could not be read (${systemErrorCode(error) ?? 'error'}). Check the path in Settings › Connections.`,
          { cause: error },
        );
      }
      const parsed = ssh2.utils.parseKey(key, passphrase);
      if (parsed instanceof Error) {
        const needsPassphrase = /passphrase/i.test(parsed.message) && !passphrase;
        const wrongPassphrase = /passphrase|decrypt/i.test(parsed.message) && Boolean(passphrase);
        log.debug('private key rejected', { message: parsed.message });
        throw new AppError(
          'ssh_key_unreadable',
          needsPassphrase
            ? `The private key ${profile.keyPath} is protected by a passphrase. Enter it in Settings › Connections.`
            : wrongPassphrase
              ? `The passphrase for ${profile.keyPath} is not right.`
              : `${profile.keyPath} is not a private key ssh can use (${parsed.message}).`,
        );
      }
      config.privateKey = key;
      if (passphrase) config.passphrase = passphrase;
    }
    return config;
  }

  /** One connection attempt; resolves when ready, rejects with a translated error. */
  async #connectOnce(): Promise<void> {
    const { profile, log } = this.#deps;
    const where = `${profile.host}:${profile.port}`;
    this.#emit(this.#attempt === 0 ? 'connecting' : 'reconnecting', `Connecting to ${where} over SSH…`);
    const config = await this.#config();
    const knownHosts = await this.#deps.readKnownHosts();
    this.#hostKeyProblem = undefined;
    const client = new Client();
    this.#client = client;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: AppError) => {
        if (settled) return;
        settled = true;
        client.removeAllListeners();
        client.on('error', () => undefined);
        client.end();
        if (this.#client === client) this.#client = undefined;
        reject(error);
      };
      client.on('ready', () => {
        if (settled) return;
        settled = true;
        this.#isReady = true;
        this.#attempt = 0;
        this.#emit(
          'open',
          `Tunnel open: 127.0.0.1:${this.#localPort} → ${profile.remoteHost}:${profile.remotePort} via ${where}`,
        );
        resolve();
      });
      client.on('error', (error: Error & { level?: string }) => {
        if (!settled) return fail(this.#translate(error));
        log.warn('ssh connection error', { message: error.message, level: error.level });
      });
      client.on('close', () => {
        if (!settled)
          return fail(
            new AppError(
              'ssh_unreachable',
              `${where} closed the SSH connection during the handshake. Check that it is an SSH server.`,
            ),
          );
        this.#onDrop(client);
      });
      client.connect({
        ...config,
        hostVerifier: (key: Buffer) => {
          const verdict = checkHostKey({
            host: profile.host,
            port: profile.port,
            keyBlob: key,
            knownHosts,
            pinnedFingerprint: profile.pinnedHostKey,
          });
          if (verdict.status === 'known') return true;
          const keyType = keyTypeOf(key);
          this.#hostKeyProblem =
            verdict.status === 'changed' || verdict.status === 'revoked'
              ? {
                  kind: 'changed',
                  host: profile.host,
                  port: profile.port,
                  fingerprint: verdict.fingerprint,
                  keyType,
                  ...(verdict.status === 'changed' ? { expectedFingerprint: verdict.expectedFingerprint } : {}),
                }
              : { kind: 'unknown', host: profile.host, port: profile.port, fingerprint: verdict.fingerprint, keyType };
          return false;
        },
      });
    });
  }

  #translate(error: Error & { level?: string }): AppError {
    const { profile } = this.#deps;
    const where = `${profile.host}:${profile.port}`;
    const problem = this.#hostKeyProblem;
    if (problem?.kind === 'unknown') {
      return new AppError(
        'ssh_host_key_unknown',
        `${where} is not a known host. Its ${problem.keyType} key fingerprint is ${problem.fingerprint}. Check it with the server's owner, then trust it to connect.`,
        { cause: error, details: { hostKey: problem } },
      );
    }
    if (problem?.kind === 'changed') {
      return new AppError(
        'ssh_host_key_changed',
        `WARNING: the host key changed for ${where}. It now presents ${problem.fingerprint}${problem.expectedFingerprint ? ` instead of ${problem.expectedFingerprint}` : ''}. Someone may be intercepting the connection, so ComfyDesk refused it. If the server was really reinstalled, remove the old key (ssh-keygen -R ${profile.port === 22 ? profile.host : `"[${profile.host}]:${profile.port}"`}) or re-create this connection.`,
        { cause: error, details: { hostKey: problem } },
      );
    }
    if (error.level === 'client-authentication') {
      return new AppError(
        'ssh_auth_failed',
        `Authentication failed for user ${profile.username} on ${where}. Check the user name and that the server accepts this ${profile.auth === 'agent' ? "agent's keys" : 'key'}.`,
        { cause: error },
      );
    }
    if (error.level === 'client-timeout' || /timed out/i.test(error.message)) {
      return new AppError(
        'ssh_unreachable',
        `${where} did not answer the SSH handshake in time. Check the host and port, and that the machine is running.`,
        { cause: error },
      );
    }
    const code = systemErrorCode(error);
    if (code === 'ECONNREFUSED')
      return new AppError(
        'ssh_unreachable',
        `Connection refused on ${where} — is the SSH server running on that port?`,
        { cause: error },
      );
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return new AppError('ssh_unreachable', `The host ${profile.host} could not be found. Check the host name.`, {
        cause: error,
      });
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
      return new AppError(
        'ssh_unreachable',
        `${where} cannot be reached (${code}). Check the host, the port and your network.`,
        { cause: error },
      );
    }
    return new AppError('ssh_unreachable', `The SSH connection to ${where} failed: ${error.message}`, { cause: error });
  }

  #onDrop(client: InstanceType<typeof Client>): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#isReady = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (!this.#running) return;
    this.#scheduleReconnect(
      new AppError('tunnel_dropped', `The SSH tunnel to ${this.#deps.profile.host} dropped. Reconnecting…`),
    );
  }

  #scheduleReconnect(error: AppError): void {
    const delay = backoffDelayMs(this.#attempt, this.#deps.backoff);
    this.#attempt += 1;
    this.#emit(
      'reconnecting',
      `${error.userMessage.replace(/ Reconnecting…$/, '')} Trying again in ${Math.max(1, Math.round(delay / 1000))} s…`,
      error,
    );
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#connectOnce().catch((next: unknown) => {
        const translated = next instanceof AppError ? next : new AppError('ssh_unreachable', String(next));
        if (!this.#running) return;
        if (
          ['ssh_auth_failed', 'ssh_host_key_changed', 'ssh_host_key_unknown', 'ssh_key_unreadable'].includes(
            translated.code,
          )
        ) {
          this.#emit('failed', translated.userMessage, translated);
          return;
        }
        this.#scheduleReconnect(translated);
      });
    }, delay);
    this.#retryTimer.unref();
  }
}
