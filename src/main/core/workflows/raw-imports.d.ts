// Vite inlines `?raw` imports as strings (used for the bundled sample workflows).
declare module '*.json?raw' {
  const text: string;
  export default text;
}
