// Loaded with --import into the plain Node child that stands in for an Electron utility process:
// gives it the `process.parentPort` Electron provides there (messages arrive as `{ data }`), and
// ends it with its parent, as Electron ends utility processes with the app.
process.parentPort = {
  postMessage: (message) => process.send(message),
  on: (event, listener) => process.on(event, (data) => listener({ data })),
};
process.on('disconnect', () => process.exit(0));
