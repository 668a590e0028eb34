/**
 * The client's IP address travels beside a Request (web Requests have no field for it): the
 * Node adapter records it here with the socket's address (or X-Forwarded-For under
 * `trustProxy`), and the handler reads it for rate limiting and logs. Other runtimes can record
 * it themselves, or pass `clientIp` to createGamifyHandler.
 */
const addresses = new WeakMap<Request, string>();

/**
 * Records the client IP of a request before handing it to the handler.
 * @example
 * Deno.serve((request, info) => { setClientIp(request, info.remoteAddr.hostname); return handler(request); });
 */
export function setClientIp(request: Request, ip: string): void {
  addresses.set(request, ip);
}

/** The client IP recorded with {@link setClientIp}, if any. */
export function getClientIp(request: Request): string | undefined {
  return addresses.get(request);
}
