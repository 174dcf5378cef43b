import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { bearerInterceptor } from "./auth.js";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { CustomerService } from "./gen/customerhub/v1/customer_service_pb.js";
import { HubService } from "./gen/customerhub/v1/hub_service_pb.js";
import { NotificationService } from "./gen/customerhub/v1/notification_service_pb.js";
import { PunchCardService } from "./gen/customerhub/v1/punch_card_service_pb.js";
import { ReminderService } from "./gen/customerhub/v1/reminder_service_pb.js";
import { TimesheetService } from "./gen/customerhub/v1/timesheet_service_pb.js";
import { WorkspaceService } from "./gen/customerhub/v1/workspace_service_pb.js";

/** Options of {@link createClients}. */
export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:50051`. */
  baseUrl: string;
  /** A staff API key, sent as `authorization: Bearer <key>` to every service but the HUB. */
  apiKey?: string;
  /** A HUB session token (from `ActivateAccount` or `Login`), sent to `HubService`. */
  hubToken?: string;
  /**
   * `grpc` (default): gRPC over HTTP/2. `grpc-web`: gRPC-Web over HTTP/1.1, as a
   * browser speaks it (the server accepts both on the same port).
   */
  protocol?: "grpc" | "grpc-web";
  /** More interceptors, run after the bearer one. */
  interceptors?: Interceptor[];
  /** Use this transport instead of building one (`protocol` and `baseUrl` are then ignored). */
  transport?: Transport;
}

/** One typed client per service of the API, sharing one transport. */
export interface Clients {
  transport: Transport;
  workspace: Client<typeof WorkspaceService>;
  customers: Client<typeof CustomerService>;
  hub: Client<typeof HubService>;
  notifications: Client<typeof NotificationService>;
  punchCards: Client<typeof PunchCardService>;
  reminders: Client<typeof ReminderService>;
  timesheets: Client<typeof TimesheetService>;
}

/** Typed clients for every customerhub service over one transport with the bearer interceptor. */
export function createClients(options: ClientOptions): Clients {
  if (options.transport && (options.apiKey || options.hubToken)) {
    throw new Error("createClients: with your own transport, add bearerInterceptor() to it yourself");
  }
  const interceptors = [bearerInterceptor(options), ...(options.interceptors ?? [])];
  const transport =
    options.transport ??
    (options.protocol === "grpc-web"
      ? createGrpcWebTransport({ baseUrl: options.baseUrl, httpVersion: "1.1", interceptors })
      : createGrpcTransport({ baseUrl: options.baseUrl, interceptors }));
  return {
    transport,
    workspace: createClient(WorkspaceService, transport),
    customers: createClient(CustomerService, transport),
    hub: createClient(HubService, transport),
    notifications: createClient(NotificationService, transport),
    punchCards: createClient(PunchCardService, transport),
    reminders: createClient(ReminderService, transport),
    timesheets: createClient(TimesheetService, transport),
  };
}
