import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { HubService } from "./gen/customerhub/v1/hub_service_pb.js";
import type { InboxMessage } from "./gen/customerhub/v1/notification_service_pb.js";

/** Options of {@link subscribeResumable}. */
export interface ResumableOptions {
  /** The last sequence the caller already has; 0 (default) for the whole inbox. */
  afterSequence?: bigint | number;
  /** Aborting ends the iteration (quietly) and the call. */
  signal?: AbortSignal;
  /** Re-subscriptions in a row without receiving anything before giving up (default 5). */
  maxRetries?: number;
  /** First wait before re-subscribing, doubled per failed try (default 200 ms). */
  initialBackoffMs?: number;
  /** Longest wait between tries (default 5 s). */
  maxBackoffMs?: number;
  /** Told about each re-subscription, e.g. for logging. */
  onRetry?: (error: ConnectError, attempt: number, afterSequence: bigint) => void;
}

/** An async iterator of HUB messages that survives dropped connections. */
export interface ResumableSubscription extends AsyncIterableIterator<InboxMessage> {
  /** The sequence of the last message yielded (or `afterSequence` before the first). */
  readonly lastSequence: bigint;
}

/** Codes after which subscribing again may work: the connection, not the request, failed. */
const TRANSIENT = new Set<Code>([
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Aborted,
  Code.DeadlineExceeded,
  Code.Canceled,
  Code.ResourceExhausted,
]);

/**
 * Streams the caller's HUB messages with `HubService.Subscribe`, in sequence
 * order, skipping heartbeats. It remembers the last sequence it yielded; when
 * the stream ends or fails with a transient error it subscribes again after
 * that sequence (with exponential backoff, at most `maxRetries` times in a
 * row), and it never yields a sequence it has yielded before. Errors about
 * the request itself (e.g. `UNAUTHENTICATED`) are thrown at once.
 */
export function subscribeResumable(
  hub: Client<typeof HubService>,
  options: ResumableOptions = {},
): ResumableSubscription {
  const maxRetries = options.maxRetries ?? 5;
  const initialBackoffMs = options.initialBackoffMs ?? 200;
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  const signal = options.signal;
  let last = BigInt(options.afterSequence ?? 0);

  async function* run(): AsyncGenerator<InboxMessage, void, undefined> {
    let failures = 0;
    for (;;) {
      if (signal?.aborted) return;
      let failure: ConnectError;
      try {
        for await (const response of hub.subscribe({ afterSequence: last }, { signal })) {
          failures = 0;
          if (response.event.case !== "message") continue; // heartbeat
          const message = response.event.value;
          if (message.sequence <= last) continue; // already yielded
          last = message.sequence;
          yield message;
        }
        // The server ended the stream (e.g. it is shutting down): subscribe again.
        failure = new ConnectError("stream ended by the server", Code.Unavailable);
      } catch (error) {
        if (signal?.aborted) return;
        failure = ConnectError.from(error);
        if (!TRANSIENT.has(failure.code)) throw failure;
      }
      failures += 1;
      if (failures > maxRetries) throw failure;
      options.onRetry?.(failure, failures, last);
      const backoff = Math.min(maxBackoffMs, initialBackoffMs * 2 ** (failures - 1));
      if (!(await sleep(backoff * (0.5 + Math.random() / 2), signal))) return;
    }
  }

  const iterator = run();
  return {
    get lastSequence() {
      return last;
    },
    next: () => iterator.next(),
    return: (value?: unknown) => iterator.return(value as undefined),
    throw: (error?: unknown) => iterator.throw(error),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Waits `ms`; false when `signal` aborted first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
