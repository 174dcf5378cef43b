/**
 * The customerhub API client for Node: generated messages and service
 * descriptors (protobuf-es v2, used by Connect-ES v2), the helpers, and
 * `createClients` over `@connectrpc/connect-node` (gRPC over HTTP/2, or
 * gRPC-Web over HTTP/1.1). Browsers import `@customerhub/client/core`.
 */
export * from "./core.js";
export { createClients, type ClientOptions, type Clients } from "./clients.js";
