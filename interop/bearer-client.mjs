// The official Better Auth client in bearer mode, as a Node app uses it (Node's fetch keeps no
// cookies): the session token is taken from each response's `set-auth-token` header and sent back
// as `Authorization: Bearer`. Node's fetch sends Sec-Fetch-Mode: cors, so an Origin is required,
// as in a browser.
import { createAuthClient } from "better-auth/client";

export function bearerClient(baseURL, plugins = []) {
  let sessionToken = "";
  const client = createAuthClient({
    baseURL,
    plugins,
    fetchOptions: {
      headers: { origin: baseURL },
      auth: { type: "Bearer", token: () => sessionToken },
      onSuccess: (ctx) => {
        const token = ctx.response.headers.get("set-auth-token");
        if (token) sessionToken = token;
      },
    },
  });
  return { client, sessionToken: () => sessionToken };
}
