import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  createClients,
  CustomerKind,
  fieldViolations,
  Locale,
  Module,
  NotificationKind,
  PunchCardUnit,
  subscribeResumable,
  type Clients,
  type InboxMessage,
  type ResumableSubscription,
} from "../src/index.js";
import { activationToken } from "./support/mail.js";
import { DroppingProxy } from "./support/proxy.js";
import { startServer, type RunningServer } from "./support/server.js";

/** Pumps a subscription into an array in the background, so a test can wait for counts and for silence. */
class Collector {
  readonly messages: InboxMessage[] = [];
  error: unknown;
  readonly done: Promise<void>;

  constructor(readonly subscription: ResumableSubscription) {
    this.done = (async () => {
      try {
        for await (const m of subscription) this.messages.push(m);
      } catch (error) {
        this.error = error;
      }
    })();
  }

  get sequences(): bigint[] {
    return this.messages.map((m) => m.sequence);
  }

  async waitFor(count: number, timeoutMs = 15_000): Promise<InboxMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (this.error) throw this.error;
      if (Date.now() > deadline) {
        throw new Error(`got ${this.messages.length} of ${count} messages: ${this.sequences.join(",")}`);
      }
      await sleep(20);
    }
    return this.messages;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("customerhub TypeScript client against the live server", () => {
  let server: RunningServer;
  let staff: Clients;

  before(async () => {
    server = await startServer();
    staff = createClients({ baseUrl: server.baseUrl, apiKey: server.apiKey });
  });

  after(async () => {
    await server?.stop();
  });

  it("welcome mail, HUB activation, punch-card messages streamed live, resumed without gaps or repeats", async () => {
    const { customer } = await staff.customers.createCustomer({
      customer: {
        kind: CustomerKind.COMPANY,
        companyName: "Bager Hansen ApS",
        hubAccess: true,
        modules: [Module.PUNCH_CARDS],
        locale: Locale.DA,
      },
      contacts: [{ firstName: "Anna", lastName: "Jensen", email: "anna@bager.example.dk" }],
      sendWelcomeMail: true,
      requestId: "ts-create-bager",
    });
    assert.ok(customer);
    assert.equal(customer.contacts.length, 1);

    // The welcome mail arrives over SMTP; its link's token activates the HUB login.
    const mail = await server.mail.waitForMailTo("anna@bager.example.dk", (m) => m.text.includes("activate?token="));
    const activated = await createClients({ baseUrl: server.baseUrl }).hub.activateAccount({
      token: activationToken(mail),
      password: "kanelsnegl-2026",
    });
    assert.ok(activated.sessionToken.startsWith("hub_"));
    assert.equal(activated.profile?.email, "anna@bager.example.dk");
    assert.deepEqual(activated.profile?.modules, [Module.PUNCH_CARDS]);

    const hub = createClients({ baseUrl: server.baseUrl, hubToken: activated.sessionToken }).hub;
    const me = await hub.getProfile({});
    assert.equal(me.profile?.customerName, "Bager Hansen ApS");

    // Live: a card and a punch each become a HUB message on the open stream.
    const first = new AbortController();
    const live = new Collector(subscribeResumable(hub, { afterSequence: 0, signal: first.signal }));
    const { punchCard } = await staff.punchCards.createPunchCard({
      punchCard: {
        customerId: customer.id,
        name: "Vinduespudsning 2026",
        unit: PunchCardUnit.PUNCHES,
        total: 10n,
        startDate: "2026-01-01",
      },
    });
    assert.ok(punchCard);
    const punch = () =>
      staff.punchCards.registerPunch({ punchCardId: punchCard.id, description: "Vinduespudsning", amount: 1n });
    await punch();
    const received = await live.waitFor(2);
    assert.deepEqual(live.sequences, [1n, 2n]);
    assert.deepEqual(
      received.map((m) => m.kind),
      [NotificationKind.CARD_CREATED, NotificationKind.PUNCH_REGISTERED],
    );
    assert.ok(received.every((m) => m.customerId === customer.id && m.title.length > 0));

    // Drop the stream, miss a message, resume from the last sequence.
    first.abort();
    await live.done;
    assert.equal(live.error, undefined);
    const last = live.subscription.lastSequence;
    assert.equal(last, 2n);
    await punch();
    const second = new AbortController();
    const resumed = new Collector(subscribeResumable(hub, { afterSequence: last, signal: second.signal }));
    await resumed.waitFor(1);
    await sleep(1500); // three heartbeats: anything more would show up
    assert.deepEqual(resumed.sequences, [3n], "exactly the missed message, once");
    assert.equal(resumed.messages[0]?.kind, NotificationKind.PUNCH_REGISTERED);
    second.abort();
    await resumed.done;

    // A dropped connection under a running subscription: it re-subscribes by itself.
    const proxy = await DroppingProxy.start({ host: server.host, port: server.port });
    try {
      const viaProxy = createClients({ baseUrl: proxy.baseUrl, hubToken: activated.sessionToken }).hub;
      const third = new AbortController();
      const retries: bigint[] = [];
      const auto = new Collector(
        subscribeResumable(viaProxy, {
          afterSequence: 3n,
          signal: third.signal,
          initialBackoffMs: 50,
          onRetry: (_error, _attempt, after) => retries.push(after),
        }),
      );
      await punch();
      await auto.waitFor(1);
      assert.deepEqual(auto.sequences, [4n]);
      assert.ok(proxy.dropAll() > 0, "the stream ran through the proxy");
      await punch();
      await punch();
      await auto.waitFor(3);
      await sleep(1500);
      assert.deepEqual(auto.sequences, [4n, 5n, 6n], "missed messages once, in order");
      assert.ok(retries.length >= 1 && retries.every((s) => s === 4n), `re-subscribed after 4: ${retries.join(",")}`);
      third.abort();
      await auto.done;
      assert.equal(auto.error, undefined);
    } finally {
      await proxy.stop();
    }

    // The inbox agrees.
    const inbox = await hub.listMessages({ pageSize: 10 });
    assert.deepEqual(
      inbox.messages.map((m) => m.sequence),
      [6n, 5n, 4n, 3n, 2n, 1n],
    );
  });

  it("decodes INVALID_ARGUMENT field violations (customer.email)", async () => {
    const error = await staff.customers
      .createCustomer({
        customer: { kind: CustomerKind.COMPANY, companyName: "Fejl ApS", email: "not-an-email" },
      })
      .then(
        () => assert.fail("expected INVALID_ARGUMENT"),
        (e: unknown) => ConnectError.from(e),
      );
    assert.equal(error.code, Code.InvalidArgument);
    const fields = fieldViolations(error).map((v) => v.field);
    assert.ok(fields.includes("customer.email"), `violations: ${fields.join(",")}`);
  });

  it("rejects a call without credentials as UNAUTHENTICATED", async () => {
    const anonymous = createClients({ baseUrl: server.baseUrl });
    await assert.rejects(anonymous.workspace.getWorkspace({}), (e: unknown) => {
      assert.equal(ConnectError.from(e).code, Code.Unauthenticated);
      return true;
    });
  });

  it("speaks gRPC-Web over HTTP/1.1 on the same port: unary, error details, server streaming", async () => {
    const web = createClients({ baseUrl: server.baseUrl, apiKey: server.apiKey, protocol: "grpc-web" });
    const { workspace } = await web.workspace.getWorkspace({});
    assert.equal(workspace?.name, "Rengøring A/S");

    const error = await web.customers
      .createCustomer({ customer: { kind: CustomerKind.COMPANY, companyName: "Web ApS", email: "@nope" } })
      .then(
        () => assert.fail("expected INVALID_ARGUMENT"),
        (e: unknown) => ConnectError.from(e),
      );
    assert.equal(error.code, Code.InvalidArgument);
    assert.ok(fieldViolations(error).some((v) => v.field === "customer.email"));

    // The HUB stream over gRPC-Web replays the inbox.
    const { customer } = await web.customers.createCustomer({
      customer: { kind: CustomerKind.COMPANY, companyName: "Web Kunde ApS", hubAccess: true, modules: [Module.PUNCH_CARDS] },
      contacts: [{ firstName: "Wil", lastName: "Web", email: "wil@web.example.dk" }],
      sendWelcomeMail: true,
    });
    assert.ok(customer);
    const mail = await server.mail.waitForMailTo("wil@web.example.dk", (m) => m.text.includes("activate?token="));
    const { sessionToken } = await web.hub.activateAccount({ token: activationToken(mail), password: "web-password-2026" });
    await web.punchCards.createPunchCard({
      punchCard: { customerId: customer.id, name: "Web-kort", unit: PunchCardUnit.PUNCHES, total: 5n, startDate: "2026-01-01" },
    });
    const hubWeb = createClients({ baseUrl: server.baseUrl, hubToken: sessionToken, protocol: "grpc-web" }).hub;
    const stop = new AbortController();
    const stream = new Collector(subscribeResumable(hubWeb, { signal: stop.signal }));
    const [message] = await stream.waitFor(1);
    assert.equal(message?.sequence, 1n);
    assert.equal(message?.kind, NotificationKind.CARD_CREATED);
    stop.abort();
    await stream.done;
  });
});
