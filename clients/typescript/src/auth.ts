import type { Interceptor } from "@connectrpc/connect";
import { HubService } from "./gen/customerhub/v1/hub_service_pb.js";

/**
 * Adds `authorization: Bearer <token>`: the HUB token for `HubService`, the API
 * key for every other service. A call with no token for its service goes
 * without the header (HUB activation and login need none).
 */
export function bearerInterceptor(tokens: { apiKey?: string; hubToken?: string }): Interceptor {
  return (next) => async (req) => {
    const token = req.service.typeName === HubService.typeName ? tokens.hubToken : tokens.apiKey;
    if (token) {
      req.header.set("authorization", `Bearer ${token}`);
    }
    return await next(req);
  };
}
