import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { fingerprintOf } from '../../src/main/core/connections/known-hosts';

/** OpenSSH's server, when installed (`apt-get install openssh-server`). */
export const SSHD_PATH = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((path) => existsSync(path));

/** A real OpenSSH sshd on 127.0.0.1 with its own keys and config in a temporary folder, run as the current user. */
export interface TestSshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  /** A key the server accepts. */
  readonly clientKeyPath: string;
  /** A passphrase-protected key the server accepts too (passphrase `correct horse`). */
  readonly protectedKeyPath: string;
  /** A valid key the server does not know. */
  readonly wrongKeyPath: string;
  readonly dir: string;
  /** The current host key's SHA256 fingerprint. */
  hostKeyFingerprint(): string;
  /** A known_hosts line for the current host key (`[127.0.0.1]:port ssh-ed25519 …`). */
  knownHostsLine(): string;
  /** Kills sshd and every session process it forked (connections drop at once, as in a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same (or rotated) keys. */
  start(): Promise<void>;
  /** Replaces the host key (a reinstalled or impersonated server); takes effect at the next start. */
  rotateHostKey(): void;
  stop(): Promise<void>;
}

function keygen(path: string, passphrase = ''): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'comfydesk-test', '-f', path], {
    stdio: 'ignore',
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Waits until the port answers with an SSH banner. */
async function waitForBanner(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.setTimeout(1000);
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString().startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`sshd did not answer on port ${port}`);
}

/** Children of a process, read from /proc (sshd forks one process per connection). */
function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

/** Starts sshd -D -e -f <config> on a free loopback port. Requires SSHD_PATH. */
export async function startSshd(): Promise<TestSshd> {
  if (!SSHD_PATH) throw new Error('sshd is not installed (apt-get install openssh-server)');
  // sshd refuses to start without its privilege-separation directory.
  if (!existsSync('/run/sshd') && process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'comfydesk-sshd-'));
  const hostKey = join(dir, 'host_ed25519');
  const clientKeyPath = join(dir, 'client_ed25519');
  const protectedKeyPath = join(dir, 'protected_ed25519');
  const wrongKeyPath = join(dir, 'wrong_ed25519');
  keygen(hostKey);
  keygen(clientKeyPath);
  keygen(protectedKeyPath, 'correct horse');
  keygen(wrongKeyPath);
  writeFileSync(
    join(dir, 'authorized_keys'),
    readFileSync(`${clientKeyPath}.pub`, 'utf8') + readFileSync(`${protectedKeyPath}.pub`, 'utf8'),
  );
  const port = await freePort();
  const user = userInfo().username;
  // Sessions get their own empty HOME: a developer's ~/.bashrc (pyenv, conda init…) is sourced by
  // bash for every command sshd runs and can take seconds each time.
  mkdirSync(join(dir, 'home'), { recursive: true });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding yes',
      // SFTP on the same connection (transfers stream files this way when curl and wget are missing).
      'Subsystem sftp internal-sftp',
      `SetEnv HOME=${join(dir, 'home')}`,
      'UsePAM no',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  const hostKeyBlob = () => Buffer.from(readFileSync(`${hostKey}.pub`, 'utf8').split(' ')[1]!, 'base64');

  const sshd: TestSshd = {
    host: '127.0.0.1',
    port,
    user,
    clientKeyPath,
    protectedKeyPath,
    wrongKeyPath,
    dir,
    hostKeyFingerprint: () => fingerprintOf(hostKeyBlob()),
    knownHostsLine: () =>
      `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}`,
    async start() {
      if (child) return;
      child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const started = child;
      started.once('exit', () => {
        if (child === started) child = undefined;
      });
      try {
        await waitForBanner(port);
      } catch (error) {
        throw new Error(`${String(error)}\n${stderr}`, { cause: error });
      }
    },
    async kill() {
      const running = child;
      if (!running?.pid) return;
      for (const pid of childPids(running.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
      child = undefined;
    },
    rotateHostKey() {
      rmSync(hostKey, { force: true });
      rmSync(`${hostKey}.pub`, { force: true });
      keygen(hostKey);
    },
    async stop() {
      await sshd.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await sshd.start();
  return sshd;
}
