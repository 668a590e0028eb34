/** Matches a path (below the prefix) and method to a route, extracting path parameters. */
import { RequestError } from "./problem.js";
import type { Route } from "./route.js";

interface CompiledRoute {
  readonly route: Route;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  /** The template's text before its first parameter: a path not starting with it cannot match. */
  readonly literal: string;
}

/** A match: the route and its decoded path parameters. */
export interface Match {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

/** The result of a lookup: a match, or the methods the path allows (empty when no route has the path). */
export type Lookup = { readonly match: Match } | { readonly match: null; readonly allowed: readonly string[] };

const NO_MATCH: Lookup = Object.freeze({ match: null, allowed: Object.freeze([]) as readonly string[] });

/** Builds a router over route declarations. */
export function createRouter(routes: readonly Route[]) {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const names: string[] = [];
    const source = route.spec.path
      .split("/")
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(param[1] as string);
        return "([^/]+)";
      })
      .join("/");
    const brace = route.spec.path.indexOf("{");
    return { route, pattern: new RegExp(`^${source}$`), names, literal: brace === -1 ? route.spec.path : route.spec.path.slice(0, brace) };
  });

  return {
    /** Looks up `path` (already stripped of the prefix). HEAD matches GET routes. */
    lookup(method: string, path: string): Lookup {
      const wanted = method === "HEAD" ? "GET" : method;
      // Runs on every request: indexed loops, and the list of allowed methods only when needed.
      let allowed: string[] | undefined;
      for (let r = 0; r < compiled.length; r++) {
        const { route, pattern, names, literal } = compiled[r] as CompiledRoute;
        if (!path.startsWith(literal)) continue;
        const found = pattern.exec(path);
        if (!found) continue;
        if (route.spec.method !== wanted) {
          (allowed ??= []).push(route.spec.method);
          continue;
        }
        const params: Record<string, string> = {};
        for (let i = 0; i < names.length; i++) {
          const name = names[i] as string;
          params[name] = decodeSegment(found[i + 1] as string, name);
        }
        return { match: { route, params } };
      }
      if (!allowed) return NO_MATCH;
      if (allowed.includes("GET")) allowed.push("HEAD");
      return { match: null, allowed };
    },
  };
}

function decodeSegment(segment: string, name: string): string {
  if (!segment.includes("%")) return segment; // nothing to decode, nothing to allocate
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RequestError(400, "INVALID_ARGUMENT", `Path parameter ${name} is not valid percent-encoding.`, [{ path: `path.${name}`, message: "is not valid percent-encoding" }]);
  }
}

/** Normalises a mount prefix: "" or "/x/y" (leading slash, no trailing slash). */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "" || prefix === "/") return "";
  const trimmed = prefix.replace(/\/+$/, "");
  return trimmed.startsWith("/") ? trimmed : `/${trimmed}`;
}

/** The path below `prefix`, or null when `pathname` is outside it. */
export function stripPrefix(pathname: string, prefix: string): string | null {
  if (prefix === "") return pathname;
  if (pathname === prefix) return "/";
  return pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length) : null;
}
