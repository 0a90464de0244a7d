// An engine process without ComfyDesk's header checks, for the tests that need llama.cpp to really
// abort: it hands llama.cpp whatever file it is asked to load (a GGUF without feed_forward_length
// ends the process in a native assertion) and otherwise speaks just enough of engine-protocol.ts.
import { getLlama } from 'node-llama-cpp';

process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
  if (message?.type !== 'load') return;
  void (async () => {
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1 });
    await llama.loadModel({ modelPath: message.path });
    process.send({ type: 'done', id: message.id });
  })().catch((error) =>
    process.send({ type: 'failed', id: message.id, error: { message: String(error?.message ?? error) } }),
  );
});
