/**
 * The /docs page: Scalar's API reference loaded from jsDelivr, pointed at the OpenAPI document
 * next to it. It uses Scalar's data-attribute form, so the page needs no inline script.
 */

/** Scalar's major version, pinned so a breaking release cannot change the page. */
const SCALAR = "https://cdn.jsdelivr.net/npm/@scalar/api-reference@1";

const escapeAttribute = (value: string) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** The HTML of the docs page; `specUrl` is resolved against the page's own URL. */
export function docsPage(specUrl: string, title = "GamifyKit API"): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeAttribute(title)}</title>
  </head>
  <body>
    <noscript>This page renders the API reference with JavaScript; the raw document is at <a href="${escapeAttribute(specUrl)}">${escapeAttribute(specUrl)}</a>.</noscript>
    <script id="api-reference" data-url="${escapeAttribute(specUrl)}"></script>
    <script src="${SCALAR}"></script>
  </body>
</html>
`;
}
