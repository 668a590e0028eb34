import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { isGamifyError, type Gamify } from "@gamifykit/core";
import { createRealtime, schemas, type GamifyHandler } from "../src/index.js";
import { call, forEachFrontEnd, NOW, testEngine, testHandler } from "./handler-support.js";

let gk: Gamify;
let handler: GamifyHandler;

beforeEach(() => {
  gk = testEngine();
  handler = testHandler(gk, { prefix: "/api" });
});

afterEach(async () => {
  await handler.close();
  await gk.close();
});

// Every case runs through the fetch handler and through toNodeHandler on loopback (see forEachFrontEnd).
forEachFrontEnd(() => {
  describe("system routes", () => {
    test("GET /healthz answers ok", async () => {
      const r = await call(handler, "GET", "/api/healthz");
      expect(r.status).toBe(200);
      expect(schemas.HealthStatus.parse(r.json)).toEqual({ status: "ok" });
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.headers.get("x-request-id")).toMatch(/.+/);
    });

    test("HEAD /healthz answers 200 without a body", async () => {
      const r = await call(handler, "HEAD", "/api/healthz");
      expect(r.status).toBe(200);
      expect(r.text).toBe("");
    });

    test("GET /readyz answers ready when the storage is healthy", async () => {
      const r = await call(handler, "GET", "/api/readyz");
      expect(r.status).toBe(200);
      expect(schemas.ReadyStatus.parse(r.json)).toEqual({ status: "ready" });
    });

    test("GET /metrics answers Prometheus text from the platform", async () => {
      await call(handler, "GET", "/api/healthz");
      const r = await call(handler, "GET", "/api/metrics");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(r.text).toContain("# TYPE");
    });

    test("GET /openapi.json answers the generated document, with the prefix as server", async () => {
      const r = await call(handler, "GET", "/api/openapi.json");
      expect(r.status).toBe(200);
      const doc = r.json as { openapi: string; servers: { url: string }[]; paths: Record<string, unknown> };
      expect(doc.openapi).toBe("3.1.0");
      expect(doc.servers).toEqual([{ url: "/api" }]);
      expect(Object.keys(doc.paths)).toContain("/v1/users/{userId}/points");
    });

    test("GET /docs answers an HTML page that renders ./openapi.json with Scalar, under a CSP that allows it", async () => {
      const r = await call(handler, "GET", "/api/docs");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(r.text).toContain('data-url="./openapi.json"');
      expect(r.text).toContain('<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script>');
      expect(r.headers.get("content-security-policy")).toContain("script-src 'self' https://cdn.jsdelivr.net");
    });
  });

  describe("users", () => {
    test("GET /v1/users/{userId} answers the user's state", async () => {
      await gk.addPoints("alice", 150, { metric: "xp" });
      await gk.awardBadge("alice", "starter");
      const r = await call(handler, "GET", "/api/v1/users/alice");
      expect(r.status).toBe(200);
      const state = schemas.UserState.parse(r.json);
      expect(state).toEqual({ userId: "alice", points: { xp: 150 }, badges: { starter: { awardedAt: NOW } }, levels: { xp: 2 }, createdAt: NOW, updatedAt: NOW });
    });

    test("path parameters are percent-decoded", async () => {
      await gk.addPoints("team|a@b", 1);
      const r = await call(handler, "GET", `/api/v1/users/${encodeURIComponent("team|a@b")}`);
      expect(r.status).toBe(200);
      expect((r.json as { userId: string }).userId).toBe("team|a@b");
    });

    test("DELETE /v1/users/{userId} answers 204 and removes state and board entries", async () => {
      await gk.addPoints("alice", 10, { metric: "xp" });
      const r = await call(handler, "DELETE", "/api/v1/users/alice");
      expect(r.status).toBe(204);
      expect(r.text).toBe("");
      expect(await gk.getUser("alice")).toBeNull();
      expect(await gk.leaderboard("xp").rank("alice")).toBeNull();
    });
  });

  describe("points", () => {
    test("POST /points adds points and returns the award with its events", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 120, metric: "xp", reason: "lesson", metadata: { lesson: 42 } } });
      expect(r.status).toBe(200);
      const result = schemas.AwardResult.parse(r.json);
      expect(result).toMatchObject({ userId: "alice", metric: "xp", delta: 120, total: 120, previousTotal: 0, level: 2, previousLevel: 1, replayed: false });
      expect(result.events.map((e) => e.type)).toEqual(["points_added", "level_up"]);
      expect(result.events[0]).toMatchObject({ reason: "lesson", metadata: { lesson: 42 }, at: NOW });
    });

    test("an Idempotency-Key applies once; the retry replays the first result", async () => {
      const send = () => call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 5 }, headers: { "Idempotency-Key": "lesson-42" } });
      const first = await send();
      const second = await send();
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect((first.json as { replayed: boolean }).replayed).toBe(false);
      expect(second.json).toEqual({ ...(first.json as object), replayed: true });
      expect((await gk.getUser("alice"))?.points["points"]).toBe(5);
    });

    test("`at` takes an ISO date-time or epoch milliseconds", async () => {
      const iso = await call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 1, at: "2026-11-20T08:00:00+01:00" } });
      const ms = await call(handler, "POST", "/api/v1/users/alice/points", { body: { amount: 1, at: 1_000 } });
      expect((iso.json as { events: { at: number }[] }).events[0]?.at).toBe(Date.parse("2026-11-20T07:00:00Z"));
      expect((ms.json as { events: { at: number }[] }).events[0]?.at).toBe(1_000);
    });

    test("POST /points/remove deducts, clamped by the metric's floor", async () => {
      await gk.addPoints("alice", 30, { metric: "coins" });
      const r = await call(handler, "POST", "/api/v1/users/alice/points/remove", { body: { amount: 50, metric: "coins" } });
      expect(r.status).toBe(200);
      expect(schemas.AwardResult.parse(r.json)).toMatchObject({ delta: -30, total: 0, previousTotal: 30, level: null });
    });

    test("POST /v1/batch applies every award and answers results in input order", async () => {
      const r = await call(handler, "POST", "/api/v1/batch", {
        body: {
          awards: [
            { userId: "alice", amount: 10, metric: "xp" },
            { userId: "bob", amount: 20, metric: "xp", idempotencyKey: "b-1" },
            { userId: "alice", amount: 3, type: "remove", metric: "xp", reason: "refund" },
          ],
        },
      });
      expect(r.status).toBe(200);
      const { results } = schemas.BatchResult.parse(r.json);
      expect(results.map((x) => [x.userId, x.delta, x.total])).toEqual([
        ["alice", 10, 10],
        ["bob", 20, 20],
        ["alice", -3, 7],
      ]);
    });
  });

  describe("badges and actions", () => {
    test("PUT a badge without a body awards it once; a repeat answers awarded: false", async () => {
      const first = await call(handler, "PUT", "/api/v1/users/alice/badges/first-lesson");
      expect(first.status).toBe(200);
      expect(schemas.BadgeResult.parse(first.json)).toMatchObject({ userId: "alice", badge: "first-lesson", awarded: true, awardedAt: NOW });
      const again = await call(handler, "PUT", "/api/v1/users/alice/badges/first-lesson", { body: { reason: "again" } });
      expect(again.json).toMatchObject({ awarded: false, events: [] });
    });

    test("PUT a badge with a body passes reason, metadata and at", async () => {
      const r = await call(handler, "PUT", "/api/v1/users/alice/badges/gold", { body: { reason: "top 1%", metadata: { season: 3 }, at: 5_000 } });
      expect(r.status).toBe(200);
      expect(schemas.BadgeResult.parse(r.json).events[0]).toMatchObject({ type: "badge_awarded", reason: "top 1%", metadata: { season: 3 }, at: 5_000 });
    });

    test("DELETE a badge revokes it", async () => {
      await gk.awardBadge("alice", "gold");
      const r = await call(handler, "DELETE", "/api/v1/users/alice/badges/gold");
      expect(r.status).toBe(200);
      expect(schemas.RevokeResult.parse(r.json)).toMatchObject({ revoked: true });
      const again = await call(handler, "DELETE", "/api/v1/users/alice/badges/gold");
      expect(again.json).toMatchObject({ revoked: false, events: [] });
    });

    test("POST /actions records an action event", async () => {
      const r = await call(handler, "POST", "/api/v1/users/alice/actions", { body: { action: "daily-login", metadata: { device: "ios" } } });
      expect(r.status).toBe(200);
      expect(schemas.ActionEvent.parse(r.json)).toMatchObject({ type: "action", userId: "alice", action: "daily-login", metadata: { device: "ios" }, at: NOW });
    });
  });

  describe("event history", () => {
    test("GET /events pages through the log with nextCursor", async () => {
      for (let i = 1; i <= 5; i++) await gk.addPoints("alice", i);
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: Awaited<ReturnType<typeof call>> = await call(handler, "GET", `/api/v1/users/alice/events?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        expect(r.status).toBe(200);
        const page = schemas.EventPage.parse(r.json);
        for (const e of page.events) if (e.type === "points_added") seen.push(e.delta);
        cursor = page.nextCursor;
        pages++;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect(pages).toBe(3);
    });

    test("an unknown user has an empty history", async () => {
      const r = await call(handler, "GET", "/api/v1/users/nobody/events");
      expect(r.json).toEqual({ events: [], nextCursor: null });
    });
  });

  describe("leaderboards", () => {
    beforeEach(async () => {
      await gk.addPoints("alice", 300, { metric: "xp" });
      await gk.addPoints("bob", 200, { metric: "xp" });
      await gk.addPoints("carol", 200, { metric: "xp" });
      await gk.addPoints("dave", 100, { metric: "xp" });
    });

    test("GET /v1/leaderboards/{metric} answers the top entries and the board's size", async () => {
      const r = await call(handler, "GET", "/api/v1/leaderboards/xp?limit=3");
      expect(r.status).toBe(200);
      const page = schemas.LeaderboardPage.parse(r.json);
      expect(page.board).toBe("xp/all/all");
      expect(page.count).toBe(4);
      expect(page.entries).toEqual([
        { userId: "alice", score: 300, rank: 1 },
        { userId: "bob", score: 200, rank: 2 },
        { userId: "carol", score: 200, rank: 2 },
      ]);
    });

    test("offset, mode and a period board", async () => {
      const r = await call(handler, "GET", "/api/v1/leaderboards/xp?period=week&mode=dense&offset=3&limit=5");
      const page = schemas.LeaderboardPage.parse(r.json);
      expect(page.board).toBe("xp/week/2026-W48");
      expect(page.entries).toEqual([{ userId: "dave", score: 100, rank: 3 }]);
      const lastWeek = await call(handler, "GET", `/api/v1/leaderboards/xp?period=week&at=${encodeURIComponent("2026-11-18T12:00:00Z")}`);
      expect(lastWeek.json).toMatchObject({ board: "xp/week/2026-W47", entries: [], count: 0 });
    });

    test("scoped boards, seasons and a period read by its key", async () => {
      await handler.close();
      await gk.close();
      gk = testEngine({ leaderboards: [{ metric: "xp", periods: ["week"], seasons: [{ id: "autumn", start: "2026-09-01", end: "2026-12-01" }] }] });
      handler = testHandler(gk, { prefix: "/api" });
      const award = await call(handler, "POST", "/api/v1/users/erin/points", { body: { amount: 40, metric: "xp", scopes: ["team-7"] } });
      expect(award.status).toBe(200);
      const batch = await call(handler, "POST", "/api/v1/batch", { body: { awards: [{ userId: "finn", amount: 10, metric: "xp", scopes: ["team-7"] }] } });
      expect(batch.status).toBe(200);

      const team = schemas.LeaderboardPage.parse((await call(handler, "GET", "/api/v1/leaderboards/xp?period=week&scope=team-7")).json);
      expect(team).toMatchObject({ board: "xp/week/2026-W48/team-7", period: "week", key: "2026-W48", finished: false, count: 2 });
      expect(team.entries.map((e) => e.userId)).toEqual(["erin", "finn"]);
      const byKey = schemas.LeaderboardPage.parse((await call(handler, "GET", "/api/v1/leaderboards/xp?period=week&at=2026-W48")).json);
      expect(byKey.board).toBe("xp/week/2026-W48");
      const season = schemas.LeaderboardPage.parse((await call(handler, "GET", "/api/v1/leaderboards/xp?period=season&at=autumn&scope=team-7")).json);
      expect(season).toMatchObject({ board: "xp/season/autumn/team-7", key: "autumn", count: 2 });
      const rank = await call(handler, "GET", "/api/v1/leaderboards/xp/users/finn?period=season&scope=team-7");
      expect(schemas.UserRank.parse(rank.json)).toEqual({ userId: "finn", score: 10, rank: 2, percentile: 50 });

      const badScope = await call(handler, "GET", "/api/v1/leaderboards/xp?scope=team%2F7");
      expect(badScope.status).toBe(400);
      const badKey = await call(handler, "GET", "/api/v1/leaderboards/xp?period=week&at=2026-13");
      expect(badKey.status).toBe(400);
      expect(badKey.json).toMatchObject({ code: "INVALID_ARGUMENT" });
    });

    test("GET .../users/{userId} answers score, rank and percentile", async () => {
      const r = await call(handler, "GET", "/api/v1/leaderboards/xp/users/bob");
      expect(r.status).toBe(200);
      expect(schemas.UserRank.parse(r.json)).toEqual({ userId: "bob", score: 200, rank: 2, percentile: 75 });
    });

    test("GET .../users/{userId}/around answers the window around the user, kept full at the bottom", async () => {
      const r = await call(handler, "GET", "/api/v1/leaderboards/xp/users/dave/around?radius=1&mode=ordinal");
      expect(r.status).toBe(200);
      const page = schemas.AroundPage.parse(r.json);
      expect(page.entries.map((e) => [e.userId, e.rank])).toEqual([
        ["bob", 2],
        ["carol", 3],
        ["dave", 4],
      ]);
    });
  });

  describe("prefix", () => {
    test("a handler without a prefix serves at the root", async () => {
      const root = testHandler(gk);
      expect((await call(root, "GET", "/healthz")).status).toBe(200);
      expect(root.handles("/v1/users/alice")).toBe(true);
      expect(root.handles("/elsewhere")).toBe(false);
      await root.close();
    });

    test("a bad prefix or bodyLimit is refused with INVALID_ARGUMENT", () => {
      const refused = (options: Parameters<typeof testHandler>[1]) => {
        try {
          testHandler(gk, options);
        } catch (error) {
          return isGamifyError(error, "INVALID_ARGUMENT");
        }
        return false;
      };
      expect(refused({ prefix: "/my api" })).toBe(true);
      expect(refused({ prefix: "/api?x" })).toBe(true);
      expect(refused({ bodyLimit: 0 })).toBe(true);
      expect(refused({ bodyLimit: 1.5 })).toBe(true);
    });

    test("a prefix is normalised and paths outside it are not served", async () => {
      const nested = testHandler(gk, { prefix: "gamify/v/" });
      expect(nested.prefix).toBe("/gamify/v");
      expect((await call(nested, "GET", "/gamify/v/healthz")).status).toBe(200);
      expect((await call(nested, "GET", "/healthz")).status).toBe(404);
      expect(nested.handles("/gamify/v/anything")).toBe(true);
      expect(nested.handles("/gamify/value")).toBe(false);
      await nested.close();
    });
  });
});

describe("realtime routes", () => {
  test("/v1/events answers 404 with how to enable realtime when it is off", async () => {
    const r = await call(handler, "GET", "/api/v1/events?userId=alice");
    expect(r.status).toBe(404);
    expect((r.json as { detail: string }).detail).toContain("createRealtime");
  });

  test("/v1/events streams the hub's server-sent events", async () => {
    const realtime = createRealtime(gk, { heartbeatMs: 60_000 });
    const live = testHandler(gk, { prefix: "/api", realtime });
    try {
      const response = await live(new Request("http://gamifykit.test/api/v1/events?userId=alice"));
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await gk.addPoints("alice", 7);
      let text = "";
      while (!text.includes('"points_added"')) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('"delta":7');
      await reader.cancel();
    } finally {
      await live.close();
      await realtime.close();
    }
  });

  test("HEAD /v1/events answers the headers and leaves no stream open; ?lastEventId= is accepted", async () => {
    const realtime = createRealtime(gk);
    const live = testHandler(gk, { realtime });
    try {
      const head = await call(live, "HEAD", "/v1/events?userId=alice");
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(realtime.connections.sse).toBe(0);
      const resumed = await live(new Request("http://gamifykit.test/v1/events?userId=alice&lastEventId=nope"));
      expect(resumed.status).toBe(200);
      await resumed.body?.cancel();
    } finally {
      await live.close();
      await realtime.close();
    }
  });

  test("a plain GET /v1/ws answers 426 (Upgrade Required) when realtime is on", async () => {
    const realtime = createRealtime(gk);
    const live = testHandler(gk, { realtime });
    try {
      const r = await call(live, "GET", "/v1/ws");
      expect(r.status).toBe(426);
      expect(r.headers.get("upgrade")).toBe("websocket");
    } finally {
      await live.close();
      await realtime.close();
    }
  });
});
