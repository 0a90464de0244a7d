/** A stand-in for Math.random that returns the given numbers in turn, so "random" choices are known in advance. */
export function sequence(...values: number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length]!;
}
