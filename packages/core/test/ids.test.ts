import { afterEach, describe, expect, test, vi } from "vitest";
import { newId } from "../src/ids.js";

describe("newId", () => {
  afterEach(() => vi.unstubAllGlobals());

  test("is a UUID where Web Crypto exists", () => {
    expect(newId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test("stays unique without Web Crypto (old edge runtimes)", () => {
    vi.stubGlobal("crypto", undefined);
    const ids = new Set(Array.from({ length: 10_000 }, () => newId()));
    expect(ids.size).toBe(10_000);
  });
});
