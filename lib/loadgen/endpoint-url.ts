// Where an OpenAI-compatible API lives under a base URL the user gives: `http://host:8000`, or one already
// ending in `/v1` (what a Serving endpoint returns), or one behind a path prefix (a Kubernetes service proxy).
// Servers also answer a few routes of their own beside `/v1` (vLLM's `/tokenize`, llama.cpp's `/props`).

/** The origin to connect to and the request path of `/v1/<route>` under `baseUrl`. */
export function openAiRoute(
  baseUrl: string,
  route: string,
): { readonly origin: string; readonly path: string } {
  const { origin, base } = serverBase(baseUrl);
  return { origin, path: `${base}/v1/${route}` };
}

/** The origin and request path of `/<route>` beside `/v1` (at the server's root, under any path prefix). */
export function serverRoute(
  baseUrl: string,
  route: string,
): { readonly origin: string; readonly path: string } {
  const { origin, base } = serverBase(baseUrl);
  return { origin, path: `${base}/${route}` };
}

/** The origin and the path prefix the server's routes sit under, without a trailing `/v1`. */
function serverBase(baseUrl: string): { origin: string; base: string } {
  const url = new URL(baseUrl);
  const path = url.pathname.replace(/\/+$/, "");
  return { origin: url.origin, base: path.endsWith("/v1") ? path.slice(0, -3) : path };
}
