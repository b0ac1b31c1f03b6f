/**
 * @module drivers/queue/amqp-endpoint — turns the driver entry's `url` / `url_env` / `vhost` (with
 * `${env:NAME}` placeholders) into the broker's address and credentials, and into the forms that
 * may be shown: a masked url for logs and `host:port/vhost` for status. The password never leaves
 * this record except towards the broker.
 */
import { expandEnvironment } from "../../environment-text.ts";
import { TaskrtError } from "../../errors.ts";
import { AMQP_QUEUE_ERROR } from "./amqp-errors.ts";

export interface AmqpEndpoint {
  protocol: "amqp" | "amqps";
  hostname: string;
  port: number;
  username: string;
  password: string;
  vhost: string;
  /** `amqp://guest:***@127.0.0.1:5672/`: safe to log. */
  maskedUrl: string;
  /** `127.0.0.1:5672/` or `127.0.0.1:5672/tasks`: safe to show. */
  address: string;
}

export interface AmqpEndpointSettings {
  url: string;
  /** Name of an environment variable holding the url; wins over `url`. */
  urlEnv?: string;
  /** Overrides the url's path. */
  vhost?: string;
  /** Forces amqps even for an `amqp://` url (the `tls.enabled` field). */
  tls?: boolean;
}

type Environment = Record<string, string | undefined>;

const DEFAULT_PORTS = { amqp: 5672, amqps: 5671 } as const;
const URL_HINT = "write url as amqp://user:password@host:5672/vhost (amqps:// for TLS), or name an environment variable holding it in url_env";

/**
 * Replaces `${env:NAME}` and `${env:NAME|default}` with the environment's value (passed through
 * `encode`; the one reading of environment-text.ts). A variable that is unset and has no default is an error naming
 * the field and the variable.
 */
export function resolveEnvPlaceholders(
  text: string,
  env: Environment,
  subject: { driverId: string; field: string },
  encode: (value: string) => string = (value) => value,
): string {
  return expandEnvironment(text, env, (name) => {
    throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${subject.driverId}: ${subject.field} refers to environment variable ${name}, which is not set`, {
      entryId: subject.driverId,
      hint: `set ${name}, or give a default: \${env:${name}|amqp://localhost:5672/}`,
    });
  }, encode);
}

export function resolveAmqpEndpoint(driverId: string, settings: AmqpEndpointSettings, env: Environment = process.env): AmqpEndpoint {
  const subject = { driverId, field: "url" };
  let text: string;
  if (settings.urlEnv !== undefined) {
    const value = env[settings.urlEnv];
    if (value === undefined || value === "") {
      throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${driverId}: url_env names ${settings.urlEnv}, which is not set`, {
        entryId: driverId,
        hint: `export ${settings.urlEnv}=amqp://user:password@host:5672/, or remove url_env to use url`,
      });
    }
    text = value;
    subject.field = `url_env (${settings.urlEnv})`;
  } else {
    // A url that is one placeholder is a whole url; a placeholder inside one is a part of it (a
    // password with @ or / in it), percent-encoded so the url still parses as meant.
    const whole = /^\$\{env:[^}]*\}$/.test(settings.url);
    text = resolveEnvPlaceholders(settings.url, env, subject, whole ? undefined : encodeURIComponent);
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    // Never echo the text: it may hold a password.
    throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${driverId}: ${subject.field} is not a valid URL`, { entryId: driverId, hint: URL_HINT });
  }
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== "amqp" && scheme !== "amqps") {
    throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${driverId}: ${subject.field} must start with amqp:// or amqps://, found ${scheme}://`, {
      entryId: driverId,
      hint: URL_HINT,
    });
  }
  if (parsed.hostname === "") {
    throw new TaskrtError(AMQP_QUEUE_ERROR.CONFIG, `queue driver ${driverId}: ${subject.field} names no host`, { entryId: driverId, hint: URL_HINT });
  }
  const protocol = settings.tls ? "amqps" : scheme;
  const port = parsed.port === "" ? DEFAULT_PORTS[protocol] : Number(parsed.port);
  // As amqplib does: no user and no password means guest/guest; an empty path means vhost "/".
  const anonymous = parsed.username === "" && parsed.password === "";
  const username = anonymous ? "guest" : decodeURIComponent(parsed.username);
  const password = anonymous ? "guest" : decodeURIComponent(parsed.password);
  const vhost =
    settings.vhost !== undefined
      ? resolveEnvPlaceholders(settings.vhost, env, { driverId, field: "vhost" })
      : decodeURIComponent(parsed.pathname.slice(1)) || "/";
  const hostname = parsed.hostname.replace(/^\[|\]$/g, "");
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const vhostPath = vhost === "/" ? "" : encodeURIComponent(vhost);
  return {
    protocol,
    hostname,
    port,
    username,
    password,
    vhost,
    maskedUrl: `${protocol}://${encodeURIComponent(username)}${password === "" ? "" : ":***"}@${host}:${port}/${vhostPath}`,
    address: `${host}:${port}/${vhostPath}`,
  };
}

/** Removes the password from text that came back from the broker or the network stack. */
export function redactPassword(text: string, endpoint: Pick<AmqpEndpoint, "password">): string {
  return endpoint.password === "" ? text : text.split(endpoint.password).join("***");
}
