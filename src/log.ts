// pino logger shared by the daemon's modules; JSON to stderr so stdout stays free for the CLI.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(debug: boolean): Logger {
  return pino({ name: 'pmxcfs', level: debug ? 'debug' : 'info', base: { pid: process.pid } }, pino.destination(2));
}
