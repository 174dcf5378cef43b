import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { MailSink } from "./mail.js";

/** The repository's top folder (where Cargo.toml and proto/ are). */
export function repoTop(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(join(dir, "Cargo.toml")) && existsSync(join(dir, "proto")))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the repository top (Cargo.toml + proto/)");
    dir = parent;
  }
  return dir;
}

/** The real server binary: $CUSTOMERHUB_BIN, else target/debug/customerhub (built when missing). */
function binary(): string {
  const fromEnv = process.env["CUSTOMERHUB_BIN"];
  if (fromEnv) return fromEnv;
  const top = repoTop();
  const bin = join(top, "target", "debug", "customerhub");
  if (!existsSync(bin)) {
    execFileSync("cargo", ["build", "--bin", "customerhub"], { cwd: top, stdio: "inherit" });
  }
  return bin;
}

export interface RunningServer {
  /** `http://127.0.0.1:PORT`: gRPC (HTTP/2) and gRPC-Web (HTTP/1.1). */
  baseUrl: string;
  host: string;
  port: number;
  /** The bootstrap admin's API key. */
  apiKey: string;
  mail: MailSink;
  stop(): Promise<void>;
}

/**
 * Starts the real `customerhub serve` on a free port with a fresh SQLite
 * database in a temp folder and a real SMTP server, after `bootstrap` made a
 * workspace and its admin's API key.
 */
export async function startServer(): Promise<RunningServer> {
  const bin = binary();
  const dir = mkdtempSync(join(tmpdir(), "customerhub-ts-"));
  const mail = await MailSink.start();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("CUSTOMERHUB_") && k !== "RUST_LOG") env[k] = v;
  }
  Object.assign(env, {
    CUSTOMERHUB_LISTEN: "127.0.0.1:0",
    CUSTOMERHUB_HTTP_LISTEN: "127.0.0.1:0",
    CUSTOMERHUB_DATABASE_URL: `sqlite://${join(dir, "customerhub.db")}?mode=rwc`,
    CUSTOMERHUB_DATA_DIR: dir,
    CUSTOMERHUB_SMTP_URL: mail.url,
    CUSTOMERHUB_DEFAULT_HUB_URL: "https://hub.example.dk",
    CUSTOMERHUB_DELIVERY_POLL_MS: "100",
    CUSTOMERHUB_STREAM_HEARTBEAT_MS: "500",
    CUSTOMERHUB_PASSWORD_HASH_MEMORY_KIB: "4096",
    CUSTOMERHUB_LOG_FORMAT: "json",
    CUSTOMERHUB_LOG: "info",
  });

  // Its log goes to stderr (shown only if it fails); the key is stdout's last line.
  const out = execFileSync(bin, ["bootstrap", "--workspace", "Rengøring A/S", "--admin-email", "admin@example.dk"], {
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const apiKey = out.trimEnd().split("\n").at(-1)?.trim();
  if (!apiKey) throw new Error(`bootstrap printed no API key: ${out}`);

  const child = spawn(bin, ["serve"], { env, stdio: ["ignore", "inherit", "pipe"] });
  const log: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${log.join("\n")}`)), 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log.join("\n")}`));
    });
    createInterface({ input: child.stderr! }).on("line", (line) => {
      log.push(line);
      if (process.env["CUSTOMERHUB_TEST_SERVER_LOG"]) process.stderr.write(`[server] ${line}\n`);
      try {
        const entry = JSON.parse(line) as { fields?: { message?: string; addr?: string } };
        if (entry.fields?.message === "customerhub serving" && entry.fields.addr) {
          clearTimeout(timer);
          resolve(Number(entry.fields.addr.split(":").at(-1)));
        }
      } catch {
        // not JSON: a panic message or the like, kept in `log`
      }
    });
  });
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    apiKey,
    mail,
    stop: async () => {
      await stopChild(child);
      await mail.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SIGTERM, then SIGKILL after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.removeAllListeners("exit"); // the start-up watcher
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}
