// Where an OpenAI-compatible API lives under a base URL the user gives: `http://host:8000`, or one already
// ending in `/v1` (what a Serving endpoint returns), or one behind a path prefix (a Kubernetes service proxy).

/** The origin to connect to and the request path of `/v1/<route>` under `baseUrl`. */
export function openAiRoute(
  baseUrl: string,
  route: string,
): { readonly origin: string; readonly path: string } {
  const url = new URL(baseUrl);
  const base = url.pathname.replace(/\/+$/, "");
  return { origin: url.origin, path: `${base.endsWith("/v1") ? base : `${base}/v1`}/${route}` };
}
