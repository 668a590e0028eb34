/** JSON answers the handler holds as text go out in one write with an exact Content-Length; everything else still streams. */
import { once } from "node:events";
import net from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { createGamify } from "@gamifykit/core";
import { fixedTextOf, fixedTextResponse, utf8Length } from "../src/fixed-body.js";
import { createGamifyHandler, toNodeHandler } from "../src/index.js";
import { closeLoopbackServers, listenOnLoopback as listen } from "./handler-support.js";

afterEach(closeLoopbackServers);

/** The raw bytes of one HTTP/1.1 exchange, so framing (Content-Length vs chunked) is visible. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(request);
  await once(socket, "end");
  return Buffer.concat(chunks).toString("utf8");
}

describe("utf8Length", () => {
  test("matches TextEncoder for ASCII, multi-byte characters, surrogate pairs and lone surrogates", () => {
    const cases = ["", "abc", "é", "€", "😀", "\ud800", "\udc00", "a\ud800b", "\ud83d\ude00\ud83d", '{"x":"ü€😀"}', "\ud800\ud800\udc00"];
    for (let n = 0; n < 500; n++) cases.push(Array.from({ length: 8 }, (_, k) => String.fromCharCode((n * 7919 + k * 104_729) % 65_536)).join(""));
    for (const text of cases) expect(utf8Length(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).byteLength);
  });
});

describe("fixed text responses", () => {
  test("carry their text until the body is read, and the body is the UTF-8 text", async () => {
    const response = fixedTextResponse('{"name":"Zoë 😀"}', 200, new Headers({ "content-type": "application/json" }));
    expect(response.headers.get("content-length")).toBe(String(new TextEncoder().encode('{"name":"Zoë 😀"}').byteLength));
    expect(fixedTextOf(response)).toBe('{"name":"Zoë 😀"}');
    expect(await response.text()).toBe('{"name":"Zoë 😀"}');
    expect(fixedTextOf(response)).toBeUndefined();
  });

  test("a response whose encoding or length was changed afterwards is not sent as the text", () => {
    const encoded = fixedTextResponse("{}", 200, new Headers({ "content-type": "application/json" }));
    encoded.headers.set("content-encoding", "gzip");
    expect(fixedTextOf(encoded)).toBeUndefined();
    const unsized = fixedTextResponse("{}", 200, new Headers({ "content-type": "application/json" }));
    unsized.headers.delete("content-length");
    expect(fixedTextOf(unsized)).toBeUndefined();
  });

  test("the Node adapter answers JSON with Content-Length, not chunked, and a non-ASCII body arrives whole", async () => {
    const text = JSON.stringify({ name: "Zoë 😀", note: "ü€" });
    const port = await listen(toNodeHandler(async () => fixedTextResponse(text, 201, new Headers({ "content-type": "application/json" }))));
    const raw = await rawExchange(port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 201 Created/);
    expect(head.toLowerCase()).not.toContain("transfer-encoding");
    expect(Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1])).toBe(Buffer.byteLength(body));
    expect(body).toBe(text);
  });

  test("the handler's JSON answers take that path: Content-Length, no chunked framing", async () => {
    const gk = createGamify();
    await gk.addPoints("alice", 5);
    const port = await listen(toNodeHandler(createGamifyHandler(gk, { logger: false })));
    const raw = await rawExchange(port, "GET /v1/users/alice HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    const [head = "", body = ""] = raw.split("\r\n\r\n");
    expect(head.toLowerCase()).not.toContain("transfer-encoding");
    expect(Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1])).toBe(Buffer.byteLength(body));
    expect(JSON.parse(body)).toMatchObject({ userId: "alice" });
    await gk.close();
  });

  test("a large compressed answer still streams chunked", async () => {
    const port = await listen(toNodeHandler(createGamifyHandler(createGamify(), { logger: false })));
    const raw = await rawExchange(port, "GET /openapi.json HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    const head = raw.split("\r\n\r\n")[0]?.toLowerCase() ?? "";
    expect(head).toContain("content-encoding: gzip");
    expect(head).toContain("transfer-encoding: chunked");
  });
});
