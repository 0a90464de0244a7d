// The bench's file server in a process of its own, as a model host is never inside ComfyDesk: serves
// FILE as /model.safetensors from tests/support/file-server.ts on 127.0.0.1 (a port of its own), prints
// the port, and stops when its stdin closes. Usage: node bench/file-server-process.mjs FILE
import { TestFileServer } from '../tests/support/file-server.ts';

const server = await new TestFileServer().serve('/model.safetensors', { content: { path: process.argv[2] } }).start();
process.stdout.write(`${server.port}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));
