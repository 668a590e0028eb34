/** One server-sent event, as the HTML spec's parser dispatches it. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  /** The last event id seen on the stream (carried over from earlier messages). */
  readonly id: string | undefined;
}

/** Hooks for the fields that matter even when no message is dispatched. */
export interface SseHooks {
  /** A `retry:` field: the reconnection delay the server asks for, in milliseconds. */
  onRetry?(ms: number): void;
  /** The last event id changed (also by an id-only block). */
  onId?(id: string): void;
}

/**
 * Parses a `text/event-stream` body (already decoded to text) into messages, following the
 * WHATWG rules: `\r\n`, `\n` or `\r` line ends (also split across chunks), a leading BOM dropped,
 * `:` comments (heartbeats) ignored, `data` lines joined with `\n`, a blank line dispatches, a
 * block without data is not dispatched, an unterminated last block is discarded.
 */
export async function* parseSse(chunks: AsyncIterable<string>, hooks: SseHooks = {}, lastEventId?: string): AsyncGenerator<SseMessage> {
  let buffer = "";
  let data: string[] = [];
  let event = "";
  let id = lastEventId;
  let pendingId: string | undefined;
  let first = true;

  // The next complete line, or undefined. A lone \r at the end may be the first half of \r\n, so it
  // waits for more text — unless the stream has ended.
  const nextLine = (final: boolean): string | undefined => {
    const end = buffer.search(/\r\n|\r|\n/);
    if (end === -1 || (!final && buffer[end] === "\r" && end === buffer.length - 1)) return undefined;
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
    return line;
  };

  const source = chunks[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await source.next();
      const final = next.done === true;
      if (!final) {
        let chunk = next.value;
        if (first && chunk.startsWith("\uFEFF")) chunk = chunk.slice(1);
        first = false;
        buffer += chunk;
      }
      for (let line = nextLine(final); line !== undefined; line = nextLine(final)) {
        if (line === "") {
          if (pendingId !== undefined) {
            id = pendingId;
            pendingId = undefined;
            hooks.onId?.(id);
          }
          if (data.length > 0) yield { event: event || "message", data: data.join("\n"), id };
          data = [];
          event = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) pendingId = value;
        else if (field === "retry" && /^\d+$/.test(value)) hooks.onRetry?.(Number(value));
      }
      if (final) return;
    }
  } finally {
    await source.return?.();
  }
}

/** Times each wait for data (not the time the consumer spends between reads). */
export interface ReadWatch {
  waiting(): void;
  received(): void;
}

/** Reads a byte stream as text chunks. */
export async function* textChunks(body: ReadableStream<Uint8Array>, watch?: ReadWatch): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      watch?.waiting();
      const { done, value } = await reader.read();
      watch?.received();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
