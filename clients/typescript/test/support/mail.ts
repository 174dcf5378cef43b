import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";

/** A mail as the test reads it. */
export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
}

/** A real SMTP server (npm `smtp-server`) on a free local port that keeps every mail it gets. */
export class MailSink {
  readonly mails: ReceivedMail[] = [];
  private readonly server: SMTPServer;
  private waiters: Array<() => void> = [];

  private constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            this.mails.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
            });
            for (const wake of this.waiters.splice(0)) wake();
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
  }

  static async start(): Promise<MailSink> {
    const sink = new MailSink();
    await new Promise<void>((resolve, reject) => {
      sink.server.once("error", reject);
      sink.server.listen(0, "127.0.0.1", () => resolve());
    });
    return sink;
  }

  get url(): string {
    const address = this.server.server.address() as AddressInfo;
    return `smtp://127.0.0.1:${address.port}`;
  }

  /** The first mail to `address` (matching `predicate`), waiting up to `timeoutMs` for it. */
  async waitForMailTo(address: string, predicate: (m: ReceivedMail) => boolean = () => true, timeoutMs = 15_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.mails.find((m) => m.to.includes(address.toLowerCase()) && predicate(m));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail to ${address} within ${timeoutMs} ms; got ${JSON.stringify(this.mails)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The token of the activation link (`.../activate?token=XYZ`) in a welcome mail. */
export function activationToken(mail: ReceivedMail): string {
  const match = /activate\?token=([^\s"'<>&]+)/.exec(mail.text);
  if (!match?.[1]) throw new Error(`no activation link in: ${mail.text}`);
  return decodeURIComponent(match[1]);
}
