// Calling a stream's handlers: what a headers, trailers or chunk handler's value means, the async budget
// of a parked handler, and settling it back to native.
import { HeaderKind } from './headers';
import { makeChunk } from './body';
import { isReply } from './results';
import { InvalidStateError } from './errors';
import { bytes as checkBytes } from './validate';
import { Level, Outcome, Phase } from './generated/enums';
import type { Stream } from './context';

/** The handler of each Phase, by value. */
export const HANDLERS = [
  'onRequestHeaders',
  'onResponseHeaders',
  'onRequestData',
  'onResponseData',
  'onRequestTrailers',
  'onResponseTrailers',
] as const;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** A headers or trailers hook: returns an Outcome; Pending means native parks the stream until settle(). */
export function dispatch(s: Stream, phase: Phase): Outcome {
  const name = HANDLERS[phase];
  let result: unknown;
  try {
    const def = s.instance.def;
    switch (phase) {
      case Phase.RequestHeaders:
        result = def.onRequestHeaders?.(s.request(), s.ctx);
        break;
      case Phase.ResponseHeaders:
        result = def.onResponseHeaders?.(s.response(), s.ctx);
        break;
      case Phase.RequestTrailers:
        result = def.onRequestTrailers?.(s.headers(HeaderKind.RequestTrailer), s.ctx);
        break;
      case Phase.ResponseTrailers:
        result = def.onResponseTrailers?.(s.headers(HeaderKind.ResponseTrailer), s.ctx);
        break;
      default:
        throw new InvalidStateError(`phase ${phase} is not dispatched here`);
    }
  } catch (e) {
    return s.fail(name, e, 'threw');
  }
  let pending: PromiseLike<Outcome>;
  if (isThenable(result)) {
    pending = result.then((v) => s.result(name, v, 'resolved to'));
  } else {
    const now = s.result(name, result, 'returned');
    if (typeof now === 'number') return now;
    pending = now; // a returned Response: its body is read before the reply goes
  }
  let done = false;
  const budget = s.instance.asyncBudgetMs;
  const deadline = setTimeout(() => {
    if (done || s.closed) return;
    done = true;
    s.env.log(
      Level.Error,
      `[nodevoy][${s.instance.name}][${s.id}] ${name} handler did not settle within ${budget} ms; abandoned`,
    );
    s.close(new DOMException(`${name} exceeded its ${budget} ms budget`, 'TimeoutError'));
    s.env.native.settle(s.id, phase, Outcome.Timeout);
  }, budget);
  deadline.unref?.(); // the deadline alone must not keep a loop alive (the pump still sees it)
  pending.then(
    (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (!s.closed) s.env.native.settle(s.id, phase, outcome);
    },
    (e: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (!s.closed) s.env.native.settle(s.id, phase, s.fail(name, e, 'rejected'));
    },
  );
  return Outcome.Pending;
}

/** A body hook: each chunk through the chunk handler, synchronously, while the views are attached. */
export function runChunks(s: Stream, phase: Phase, chunks: Uint8Array[], end: boolean): Outcome {
  const name = HANDLERS[phase];
  const handler = phase === Phase.RequestData ? s.instance.def.onRequestData : s.instance.def.onResponseData;
  if (!handler) return Outcome.Continue;
  const list = chunks.length ? chunks : [new Uint8Array(0)];
  let parts: (string | Uint8Array)[] | undefined;
  try {
    for (let i = 0; i < list.length; i++) {
      const bytes = list[i] as Uint8Array;
      const r = handler(makeChunk(bytes, end && i === list.length - 1), s.ctx);
      if (isThenable(r))
        throw new TypeError(
          `${name} must be synchronous (its chunk is only valid during the call); await the whole body with body.bytes() instead`,
        );
      if (s.replied || isReply(r)) return s.outcome();
      if (r === undefined || r === bytes) {
        parts?.push(bytes);
        continue;
      }
      parts ??= list.slice(0, i);
      if (r !== null) parts.push(checkBytes(r, name));
    }
  } catch (e) {
    return s.fail(name, e, 'threw');
  }
  if (parts) s.env.native.replaceChunks(s.id, phase & 1, parts);
  return Outcome.Continue;
}
