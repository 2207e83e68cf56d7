// A request to a local admin API as the modelship CLI makes it: with the home's secret (`<home>/admin-token`)
// as a bearer token, and the caller's own headers and body.

import { readAdminSecret } from "../../lib/local/admin-auth";

export async function adminFetch(
  baseUrl: string,
  home: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${await readAdminSecret(home)}`);
  return fetch(`${baseUrl}/_modelship/${path}`, { ...init, headers });
}
