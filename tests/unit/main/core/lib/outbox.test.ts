import { describe, expect, test } from 'vitest';
import { Outbox, jsonFrame, type WindowTimer } from '../../../../../src/main/core/lib/outbox';

/** A timer that fires only when the test says so. */
function manualTimer(): { timer: WindowTimer; fire: () => void; readonly pending: number } {
  const runs = new Set<() => void>();
  return {
    timer: (run) => {
      runs.add(run);
      return () => runs.delete(run);
    },
    fire: () => {
      const due = [...runs];
      runs.clear();
      for (const run of due) run();
    },
    get pending() {
      return runs.size;
    },
  };
}

const event = (index: number) => JSON.stringify({ kind: 'event', event: 'generation.progress', payload: { index } });
const response = (id: string) => JSON.stringify({ kind: 'response', id, ok: true, output: {} });

/** Every envelope the frames carried, in order, as the client reads them. */
const envelopes = (frames: string[]) => frames.flatMap((frame) => [JSON.parse(frame) as unknown].flat());

function outbox() {
  const frames: string[] = [];
  const clock = manualTimer();
  const box = new Outbox<string>({ send: (batch) => frames.push(jsonFrame(batch)), timer: clock.timer });
  return { frames, clock, box };
}

describe('an outbox', () => {
  test('an event after a quiet spell goes out at once, alone, as the plain envelope', () => {
    const { frames, box } = outbox();
    box.push(event(1));
    expect(frames).toEqual([event(1)]);
  });

  test('events within a window go out together at its end, as one array in the order they came', () => {
    const { frames, clock, box } = outbox();
    box.push(event(1));
    box.push(event(2));
    box.push(event(3));
    expect(frames).toEqual([event(1)]);
    clock.fire();
    expect(frames).toEqual([event(1), `[${event(2)},${event(3)}]`]);
    expect(envelopes(frames)).toEqual([1, 2, 3].map((index) => JSON.parse(event(index))));
  });

  test('a burst of a thousand events loses none and keeps their order', () => {
    const { frames, clock, box } = outbox();
    for (let index = 0; index < 1000; index += 1) {
      box.push(event(index));
      if (index % 37 === 0) clock.fire();
    }
    clock.fire();
    expect(envelopes(frames)).toEqual(Array.from({ length: 1000 }, (_, index) => JSON.parse(event(index))));
    expect(frames.length).toBeLessThan(40);
  });

  test('a flush sends at once what waited, a response after the events before it, in the same frame', () => {
    const { frames, box } = outbox();
    box.push(event(1));
    box.push(event(2));
    box.push(response('a'));
    box.flush();
    expect(frames).toEqual([event(1), `[${event(2)},${response('a')}]`]);
  });

  test('a response after a quiet spell goes out alone, and a flush with nothing waiting sends nothing', () => {
    const { frames, box } = outbox();
    box.push(response('a'));
    box.flush();
    box.flush();
    expect(frames).toEqual([response('a')]);
  });

  test('after a window with nothing in it, the next event goes out at once again', () => {
    const { frames, clock, box } = outbox();
    box.push(event(1));
    clock.fire();
    expect(clock.pending).toBe(0);
    box.push(event(2));
    expect(frames).toEqual([event(1), event(2)]);
  });

  test('closing drops what waits and leaves no timer behind', () => {
    const { frames, clock, box } = outbox();
    box.push(event(1));
    box.push(event(2));
    box.close();
    expect(clock.pending).toBe(0);
    box.push(event(3));
    box.flush();
    clock.fire();
    expect(frames).toEqual([event(1)]);
  });
});
