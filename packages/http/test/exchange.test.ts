import { describe, expect, test } from "vitest";
import { answerFromResponse, answerToResponse } from "../src/exchange.js";

describe("answers made from a Response", () => {
  test("keep every Set-Cookie as its own header, through to the web Response and the Node header list", async () => {
    const answer = answerFromResponse(new Response("ok", { status: 202, headers: [["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2"], ["x-kind", "host"]] }));
    const cookies = answer.headers.list.filter((_, i, list) => i % 2 === 1 && list[i - 1] === "set-cookie");
    expect(cookies).toEqual(["a=1; Path=/", "b=2"]);
    expect(answer.headers.get("x-kind")).toBe("host");
    const response = answerToResponse(answer);
    expect(response.status).toBe(202);
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2"]);
    expect(await response.text()).toBe("ok");
  });
});
