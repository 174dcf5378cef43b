/**
 * Everything of the client that runs anywhere (browsers included): the
 * generated messages and service descriptors and the transport-independent
 * helpers. `@customerhub/client` adds `createClients` for Node on top.
 */
export * from "./gen/customerhub/v1/common_pb.js";
export * from "./gen/customerhub/v1/customer_service_pb.js";
export * from "./gen/customerhub/v1/hub_service_pb.js";
export * from "./gen/customerhub/v1/notification_service_pb.js";
export * from "./gen/customerhub/v1/punch_card_service_pb.js";
export * from "./gen/customerhub/v1/reminder_service_pb.js";
export * from "./gen/customerhub/v1/timesheet_service_pb.js";
export * from "./gen/customerhub/v1/workspace_service_pb.js";
export * as rpc from "./gen/google/rpc/error_details_pb.js";
export { bearerInterceptor } from "./auth.js";
export { fieldViolations, preconditionViolations } from "./errors.js";
export { subscribeResumable, type ResumableOptions, type ResumableSubscription } from "./subscribe.js";
